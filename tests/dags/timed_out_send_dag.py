"""Test DAG: a send that Airflow's ``execution_timeout`` (2 s) cuts short, retried until done."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_plivo.operators.message import PlivoSendMessageOperator

with DAG(
    dag_id="plivo_timed_out_send_test",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    render_template_as_native_obj=True,
    params={"dst": []},
    default_args={"retries": 8, "retry_delay": timedelta(seconds=0)},
) as dag:
    send = PlivoSendMessageOperator(
        task_id="send",
        src="+14155550100",
        dst="{{ params.dst }}",
        text="timed out send test",
        execution_timeout=timedelta(seconds=2),
        # Two requests at a time against a slow sandbox: the 10 requests cannot finish in 2 s.
        hook_params={"max_concurrency": 2, "adaptive": False, "message_list_rate_limit": None},
    )
