"""Templated list arguments (``files``, ``dst``, ``media_ids``...) as they reach ``execute()``."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_plivo._airflow.templating import string_list


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ("/data/a.jpg", ["/data/a.jpg"]),
        (Path("/data/a.jpg"), ["/data/a.jpg"]),
        (["/data/a.jpg", Path("/data/b.png")], ["/data/a.jpg", "/data/b.png"]),
        (("/data/a.jpg",), ["/data/a.jpg"]),
        ([], []),
        ("['/data/a.jpg', '/data/b.png']", ["/data/a.jpg", "/data/b.png"]),
        ("[not a list", ["[not a list"]),
        # One string is one item, exactly as given: a name may begin or end with a space.
        ("/data/a.jpg ", ["/data/a.jpg "]),
        (" /data/a.jpg", [" /data/a.jpg"]),
        (["a.jpg ", " b.png", ""], ["a.jpg ", " b.png", ""]),
        ("['a.jpg ', ' b.png']", ["a.jpg ", " b.png"]),
        (" ['a.jpg']", [" ['a.jpg']"]),
        (" +14155550101", [" +14155550101"]),
    ],
)
def test_files_normalise_to_a_list_of_paths(files, expected):
    assert string_list(files, argument="files") == expected


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (None, "files must be a string or a list of strings, got NoneType"),
        (42, "files must be a string or a list of strings, got int"),
        ({"a.jpg": 1}, "files must be a string or a list of strings, got dict"),
        (["a.jpg", None, 3], "not strings: #1 None, #2 3"),
        ("[1, 2]", "not strings: #0 1, #1 2"),
    ],
)
def test_values_that_are_not_strings_are_refused_by_position(files, message):
    with pytest.raises(TypeError, match=message):
        string_list(files, argument="files")
