"""Test DAG: a send that Airflow's ``execution_timeout`` cuts short, retried until done.

6 s, not 2: each try first renders and checks the numbers it has left and reads and writes the
task state store (100-300 ms a call through dag.test's API client, two calls a request before
the first goes), and on this suite's shared machine under load that alone took 2-3 s a try."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_plivo.operators.message import PlivoSendMessageOperator

with DAG(
    dag_id="plivo_timed_out_send_test",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    params={"dst": []},
    default_args={"retries": 20, "retry_delay": timedelta(seconds=0)},
) as dag:
    send = PlivoSendMessageOperator(
        task_id="send",
        src="+14155550100",
        dst="{{ params.dst }}",
        text="timed out send test",
        execution_timeout=timedelta(seconds=6),
        # Two requests at a time against a slow sandbox: the 10 requests need 10 s.
        hook_params={"max_concurrency": 2, "adaptive": False, "message_list_rate_limit": None},
    )
