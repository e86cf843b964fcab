"""Test DAG: one MMS to ``params.dst``, paced in waves when Plivo cannot dispatch it within the
message expiry (the connection's ``mps`` and ``time_scale`` decide). One Airflow retry, and
one attempt a request in the hook, so that a scripted fault fails the try."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_plivo.operators.message import PlivoSendMessageOperator

with DAG(
    dag_id="plivo_paced_campaign_test",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    params={"dst": ["+14155550101"]},
    default_args={"retries": 1, "retry_delay": timedelta(seconds=0)},
) as dag:
    PlivoSendMessageOperator(
        task_id="send",
        src="+14155550100",
        dst="{{ params.dst }}",
        text="paced campaign test",
        message_params={"type": "mms"},
        hook_params={"retry_attempts": 1},
    )
