"""Test DAG: one send to ``params.dst`` (100,000 numbers in the XCom size test)."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_plivo.operators.message import PlivoSendMessageOperator

with DAG(
    dag_id="plivo_large_send_test",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    params={"dst": []},
    default_args={"retries": 0},
) as dag:
    send = PlivoSendMessageOperator(
        task_id="send",
        src="+14155550100",
        dst="{{ params.dst }}",
        text="large send test",
        hook_params={"max_concurrency": 10},
    )
