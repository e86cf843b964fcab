"""The operators' and the sensor's constructors, and their templated arguments rendered by Airflow."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import pytest

from airflow_provider_plivo.operators.media import PlivoMediaUploadOperator
from airflow_provider_plivo.operators.message import PlivoSendMessageOperator
from airflow_provider_plivo.sensors.message import PlivoMessageSensor

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, Context

PARAMS = {
    "folder": "/data/mms/2026-11-26",
    "conn": "plivo_eu",
    "numbers": ["+14155550101", "+14155550102"],
    "first": "+14155550101",
    "name": "Ann",
    "media": ["0b6e3d3c-0000-4000-8000-000000000001", "0b6e3d3c-0000-4000-8000-000000000002"],
    "uuids": ["3f2c0000-0000-4000-8000-000000000001", "3f2c0000-0000-4000-8000-000000000002"],
}


def rendered(operator: BaseOperator) -> BaseOperator:
    """``operator`` with its template fields rendered by Airflow, as a task run does first."""
    operator.render_template_fields(cast("Context", {"params": PARAMS}))
    return operator


def test_constructor_does_no_work_and_files_is_templated() -> None:
    operator = PlivoMediaUploadOperator(
        task_id="upload", files="{{ params.folder }}/*.jpg", plivo_conn_id="{{ params.conn }}"
    )

    assert operator.files == "{{ params.folder }}/*.jpg"
    assert "hook" not in operator.__dict__

    rendered(operator)

    assert operator.files == "/data/mms/2026-11-26/*.jpg"
    assert operator.plivo_conn_id == "plivo_eu"
    assert operator.hook.plivo_conn_id == "plivo_eu"


def test_a_list_of_files_is_rendered_item_by_item() -> None:
    operator = PlivoMediaUploadOperator(
        task_id="upload", files=["{{ params.folder }}/a.jpg", "s3://bucket/{{ params.name }}.png"]
    )

    rendered(operator)

    assert operator.files == ["/data/mms/2026-11-26/a.jpg", "s3://bucket/Ann.png"]


def test_the_send_operator_renders_numbers_text_media_ids_and_connection() -> None:
    operator = PlivoSendMessageOperator(
        task_id="send",
        src="+14155550100",
        dst=["{{ params.first }}", "+14155550103"],
        text="Hi {{ params.name }}",
        media_ids="{{ params.media }}",
        plivo_conn_id="{{ params.conn }}",
    )
    assert "hook" not in operator.__dict__

    rendered(operator)

    assert operator.dst == ["+14155550101", "+14155550103"]
    assert operator.text == "Hi Ann"
    # Without render_template_as_native_obj a list renders as its string; execute() reads it back.
    assert operator.media_ids == str(PARAMS["media"])
    assert operator.plivo_conn_id == "plivo_eu"
    assert operator.hook.plivo_conn_id == "plivo_eu"


def test_the_sensor_renders_message_uuids_and_connection() -> None:
    sensor = PlivoMessageSensor(
        task_id="wait",
        message_uuids=["{{ params.uuids[1] }}", "{{ params.uuids[0] }}"],
        plivo_conn_id="{{ params.conn }}",
    )

    rendered(sensor)

    assert sensor.message_uuids == [
        "3f2c0000-0000-4000-8000-000000000002",
        "3f2c0000-0000-4000-8000-000000000001",
    ]
    assert sensor.plivo_conn_id == "plivo_eu"
    assert sensor.hook.plivo_conn_id == "plivo_eu"


def test_positional_arguments_are_refused() -> None:
    with pytest.raises(TypeError):
        PlivoMediaUploadOperator("upload", ["a.jpg"])  # type: ignore[call-arg, arg-type]


@pytest.mark.parametrize("message_expiry", [4, 10_801, 60.5])
def test_a_message_expiry_outside_plivos_range_fails_the_dag_parse(message_expiry: Any) -> None:
    with pytest.raises(
        ValueError, match=r"message_expiry must be a whole number of seconds from 5 to 10,800"
    ):
        PlivoSendMessageOperator(task_id="send", dst="+14155550101", text="hi", message_expiry=message_expiry)


def test_message_expiry_is_taken_from_message_params_too_but_not_twice() -> None:
    operator = PlivoSendMessageOperator(
        task_id="send", dst="+14155550101", text="hi", message_params={"message_expiry": 600}
    )

    assert operator.message_expiry == 600
    assert operator.pacing is True
    with pytest.raises(ValueError, match="message_expiry is given twice"):
        PlivoSendMessageOperator(
            task_id="send",
            dst="+14155550101",
            text="hi",
            message_expiry=60,
            message_params={"message_expiry": 60},
        )


def test_the_send_operator_reports_every_bad_field_in_one_error_before_anything_is_made() -> None:
    from airflow_provider_plivo.exceptions import PlivoMessageValidationError
    from airflow_provider_plivo.version_compat import AirflowFailException

    # As rendering may leave them (a native template, a DAG author's slip): not the types declared.
    wrong: dict[str, Any] = {"src": 14155550100, "dst": [14155550101, ["+14155550102"]], "media_ids": [1, 2]}
    operator = PlivoSendMessageOperator(task_id="send", text="x" * 1601, **wrong)

    with pytest.raises(AirflowFailException) as raised:
        operator.execute(cast("Context", {}))

    cause = raised.value.__cause__
    assert isinstance(cause, PlivoMessageValidationError)
    assert [problem.split(";")[0].split(",")[0] for problem in cause.problems] == [
        "dst must hold only strings",
        "media_ids must hold only strings",
        "src must be a string",
        "text is 1",
    ]
    assert "TypeError" not in str(raised.value)
    # Checked before the hook (and its connection) was even made: nothing was sent.
    assert "hook" not in operator.__dict__
