"""Test DAG: upload whatever ``params.files`` holds, then hand the media IDs to a downstream task."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_plivo.operators.media import PlivoMediaUploadOperator

with DAG(
    dag_id="plivo_upload_test",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    render_template_as_native_obj=True,
    params={"files": []},
    default_args={"retries": 0},
) as dag:
    upload = PlivoMediaUploadOperator(
        task_id="upload",
        files="{{ params.files }}",
        hook_params={"retry_wait_initial": 0.05, "retry_wait_max": 0.2, "retry_attempts": 10},
    )

    @task
    def receive(media_ids: list[str]) -> list[str]:
        return list(media_ids)

    receive(upload.output)
