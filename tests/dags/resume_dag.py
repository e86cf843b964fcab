"""Test DAG: upload ``params.files`` two at a time, one request at a time, two attempts a request,
with one Airflow retry."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_plivo.operators.media import PlivoMediaUploadOperator

with DAG(
    dag_id="plivo_resume_test",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    render_template_as_native_obj=True,
    params={"files": []},
    default_args={"retries": 1, "retry_delay": timedelta(seconds=0)},
) as dag:
    PlivoMediaUploadOperator(
        task_id="upload",
        files="{{ params.files }}",
        chunk_size=2,
        max_concurrency=1,
        hook_params={"retry_attempts": 2, "retry_wait_initial": 0.01, "retry_wait_max": 0.05},
    )
