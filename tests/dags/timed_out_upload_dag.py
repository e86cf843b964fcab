"""Test DAG: an upload that Airflow's ``execution_timeout`` (2 s) cuts short, retried until done."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_plivo.operators.media import PlivoMediaUploadOperator

with DAG(
    dag_id="plivo_timed_out_upload_test",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    render_template_as_native_obj=True,
    params={"files": []},
    default_args={"retries": 20, "retry_delay": timedelta(seconds=0)},
) as dag:
    upload = PlivoMediaUploadOperator(
        task_id="upload",
        files="{{ params.files }}",
        execution_timeout=timedelta(seconds=2),
        # Chunks of 2 files, two at a time against a slow sandbox: 12 chunks cannot finish in 2 s.
        hook_params={"max_concurrency": 2, "adaptive": False, "chunk_size": 2},
    )
