"""Test DAG: split ``params.files`` into batches of 15, upload each in a mapped task, collect the IDs."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_plivo.operators.media import PlivoMediaUploadOperator
from airflow_provider_plivo.sources import media_batches

with DAG(
    dag_id="plivo_mapped_test",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    params={"files": []},
    default_args={"retries": 0},
) as dag:

    @task
    def batches(**context: Any) -> list[list[str]]:
        return media_batches(context["params"]["files"], 15)

    upload = PlivoMediaUploadOperator.partial(task_id="upload").expand(files=batches())

    @task
    def collect(media_ids: Any) -> list[str]:
        return [media_id for batch in media_ids for media_id in batch]

    collect(upload.output)
