"""Templated list arguments (``files``, ``dst``, ``media_ids``...) and the upload operator's constructor."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_plivo.operators.media import PlivoMediaUploadOperator
from airflow_provider_plivo.utils.templating import string_list


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


def test_constructor_does_no_work_and_files_is_templated():
    operator = PlivoMediaUploadOperator(
        task_id="upload", files="{{ ds }}/*.jpg", plivo_conn_id="does_not_exist"
    )

    assert operator.files == "{{ ds }}/*.jpg"
    assert "files" in operator.template_fields
    assert "hook" not in operator.__dict__


def test_positional_arguments_are_refused():
    with pytest.raises(TypeError):
        PlivoMediaUploadOperator("upload", ["a.jpg"])  # type: ignore[misc]
