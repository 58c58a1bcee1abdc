"""Figures the pages draw are kept in the ui layer, once per model or map, and go when their source goes."""
import gc
import threading

from ui import figures
from ui.figures import drawn_once


class Source:
    """Stands for a Workbench or a MapResult: any object the figures were drawn from."""


def test_a_figure_is_drawn_once_per_source_however_many_sessions_ask_at_once():
    source, drawings = Source(), []
    started = threading.Barrier(4)

    def draw():
        drawings.append(1)
        return {"figure": len(drawings)}

    def ask(results):
        started.wait()
        results.append(drawn_once(source, ("map", 2000), draw))

    results: list = []
    threads = [threading.Thread(target=ask, args=(results,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(drawings) == 1 and all(result is results[0] for result in results)
    assert drawn_once(Source(), ("map", 2000), draw) == {"figure": 2}, "another model's figure is its own"


def test_figures_go_with_the_map_they_were_drawn_from():
    source = Source()
    drawn_once(source, "figure", lambda: "drawn")
    assert id(source) in figures._memos
    kept = id(source)
    del source
    gc.collect()
    assert kept not in figures._memos
