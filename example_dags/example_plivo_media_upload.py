"""Daily MMS media upload: send the day's images to Plivo and hand their media IDs on.

The batch is whatever the glob matches when the run starts (``PLIVO_MEDIA_DIR``, by default
the sample images beside this file). In production, point it at the day's drop, e.g.
``/data/mms/{{ dag_run.run_after | ds }}/*.jpg`` or ``s3://my-bucket/mms/{{ dag_run.run_after | ds }}/*``
(any Airflow object storage; ``run_after`` exists on manual runs too, where ``ds`` does not).
Plivo deletes media no message used within 6 hours, so the tasks that send the MMS belong in the same run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_plivo.operators.media import PlivoMediaUploadOperator

MEDIA_DIR = os.environ.get("PLIVO_MEDIA_DIR", str(Path(__file__).resolve().parent / "media"))

with DAG(
    dag_id="example_plivo_media_upload",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["plivo", "example"],
    doc_md=__doc__,
) as dag:
    upload = PlivoMediaUploadOperator(task_id="upload_media", files=f"{MEDIA_DIR}/*")

    @task
    def use_media_ids(media_ids: list[str]) -> int:
        """Stands in for the task that sends the MMS: it receives the IDs in input order."""
        for media_id in media_ids:
            print(f"media ID: {media_id}")
        return len(media_ids)

    use_media_ids(upload.output)
