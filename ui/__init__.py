"""The Streamlit layer shared by the pages: page table, shared caches, the workspace and its runs, the active
model, sidebar, uploads, the class board, the training replay.

Nothing here runs Streamlit code at import time: every module is imported by several script threads
at once on a fresh server, so side effects belong in functions the pages call.
"""
