import numpy as np
import pytest

from explorer.selection import class_counts, indices_from_text, indices_to_text, selected_indices


def point(customdata, trace=0, number=0):
    return {"curve_number": trace, "point_number": number, "point_index": number, "x": 0.0, "y": 0.0,
            "customdata": customdata}


def test_indices_come_from_customdata_not_per_trace_point_numbers():
    event = {"selection": {"points": [point({"0": 17, "1": 0.9}, trace=0, number=0),
                                      point([42, 0.5], trace=3, number=0), point(7, trace=1, number=0)]}}
    assert selected_indices(event).tolist() == [17, 42, 7]


def test_duplicates_and_points_without_customdata_are_dropped():
    event = {"selection": {"points": [point([5]), point([5]), {"x": 1, "y": 2}, point({"0": "n/a"}), point([])]}}
    assert selected_indices(event).tolist() == [5]


def test_empty_or_missing_selection():
    for event in (None, {}, {"selection": None}, {"selection": {"points": []}}):
        assert selected_indices(event).size == 0


def test_class_counts_largest_first():
    names = ("a", "b", "c")
    assert class_counts(np.array([2, 0, 2, 2]), names) == {"c": 3, "a": 1}


def test_a_selection_travels_in_a_link_as_ranges_and_comes_back_whole():
    indices = np.array([9, 3, 4, 5, 12, 13, 40])
    text = indices_to_text(indices)
    assert text == "3-5.9.12-13.40"
    assert indices_from_text(text, 41).tolist() == [3, 4, 5, 9, 12, 13, 40]
    assert indices_from_text("", 10).tolist() == [] and indices_to_text(np.array([])) == ""
    for bad in ("3-x", "7-2", "-4", "5.99"):
        with pytest.raises(ValueError):
            indices_from_text(bad, 50)
