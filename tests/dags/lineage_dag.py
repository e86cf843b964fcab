"""Test DAG: upload whatever ``params.files`` holds, for a run watched by the OpenLineage listener."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_plivo.operators.media import PlivoMediaUploadOperator

with DAG(
    dag_id="plivo_lineage_test",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    render_template_as_native_obj=True,
    params={"files": []},
    default_args={"retries": 0},
) as dag:
    PlivoMediaUploadOperator(task_id="upload", files="{{ params.files }}")
