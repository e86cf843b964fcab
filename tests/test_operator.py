"""The upload operator's constructor."""

from __future__ import annotations

import pytest

from airflow_provider_plivo.operators.media import PlivoMediaUploadOperator


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
