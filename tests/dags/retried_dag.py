"""Test DAG: one upload and one send, each with two Airflow retries, run one at a time by
``params.task``: to count how many tries an error costs."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_plivo.operators.media import PlivoMediaUploadOperator
from airflow_provider_plivo.operators.message import PlivoSendMessageOperator

FAST = {"retry_wait_initial": 0.01, "retry_wait_max": 0.05, "retry_attempts": 2}

with DAG(
    dag_id="plivo_retried_test",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    params={"files": [], "dst": ["+14155550101"], "media_ids": []},
    default_args={"retries": 2, "retry_delay": timedelta(seconds=0)},
) as dag:
    upload = PlivoMediaUploadOperator(task_id="upload", files="{{ params.files }}", hook_params=FAST)
    send = PlivoSendMessageOperator(
        task_id="send",
        src="+14155550100",
        dst="{{ params.dst }}",
        text="retried send test",
        media_ids="{{ params.media_ids }}",
        # The suite's sandboxes let the list be read freely (tests/conftest.py): reconciling a
        # lost request of 1,000 numbers reads 50 list pages, 2.5 minutes at Plivo's 20 a minute.
        hook_params={"message_list_rate_limit": None},
    )
