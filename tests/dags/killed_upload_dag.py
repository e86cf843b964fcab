"""Test DAG: upload ``params.files`` 30 requests at a time, with one Airflow retry: a test
SIGKILLs the process running it mid-upload and runs the retry itself
(tests/dag_runs/test_killed_upload.py)."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_plivo.operators.media import PlivoMediaUploadOperator

with DAG(
    dag_id="plivo_killed_upload_test",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    render_template_as_native_obj=True,
    params={"files": []},
    default_args={"retries": 1, "retry_delay": timedelta(seconds=0)},
) as dag:
    PlivoMediaUploadOperator(
        task_id="upload",
        files="{{ params.files }}",
        max_concurrency=30,
    )
