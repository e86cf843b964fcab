"""Test DAG: one MMS to ``params.dst`` with pacing off: it fails before sending anything when
Plivo cannot dispatch it within the message expiry."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_plivo.operators.message import PlivoSendMessageOperator

with DAG(
    dag_id="plivo_unpaced_campaign_test",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    params={"dst": ["+14155550101"]},
    default_args={"retries": 2},
) as dag:
    PlivoSendMessageOperator(
        task_id="send",
        src="+14155550100",
        dst="{{ params.dst }}",
        text="unpaced campaign test",
        message_params={"type": "mms"},
        pacing=False,
    )
