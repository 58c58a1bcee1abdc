"""Entry point: navigation from the page table, the shared frame, then the page. The library is explorer/, the
Streamlit layer the pages share is ui/, the pages are pages/."""
# Imported whole before any page draws: Plotly uses pandas if it is in sys.modules, even half-imported by
# another session's thread ("partially initialized module 'pandas' has no attribute 'Series'").
import pandas  # noqa: F401
import streamlit as st

from explorer.allocator import return_freed_memory_promptly
from ui.entry import draw_frame, navigation_pages
from ui.follow import publish
from ui.resources import start_background_warm_up

return_freed_memory_promptly()
navigation = st.navigation(navigation_pages())
draw_frame(navigation.url_path)
navigation.run()
publish(navigation.url_path)  # a presenting teacher's view, once the page has drawn it
start_background_warm_up()  # after the first page is drawn: numba compiling alongside it delayed the first map
