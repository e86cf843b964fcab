"""Test DAG: an upload whose executed operator is kept, so a test can ask it for its lineage."""

from __future__ import annotations

from typing import Any, ClassVar

import pendulum
from airflow.sdk import DAG

from airflow_provider_plivo.operators.media import PlivoMediaUploadOperator


class KeptUploadOperator(PlivoMediaUploadOperator):
    executed: ClassVar[list[PlivoMediaUploadOperator]] = []

    def execute(self, context: Any) -> list[str]:
        KeptUploadOperator.executed.append(self)
        return super().execute(context)


with DAG(
    dag_id="plivo_lineage_test",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    render_template_as_native_obj=True,
    params={"files": []},
    default_args={"retries": 0},
) as dag:
    KeptUploadOperator(task_id="upload", files="{{ params.files }}")
