"""Campaign to a whole audience: read the numbers from a CSV, upload the day's media, send one
MMS to every number, wait until each message is done; text the on-call phone if anything fails.

``audience.csv`` beside this file holds 2,500 fictional numbers (555-01XX, reserved for
fiction): the send goes out as 3 requests of at most 1,000 numbers, each number gets one
message, and retries never message a number twice (Airflow 3.3+). Point ``AUDIENCE_CSV`` and
``PLIVO_MEDIA_DIR`` at your own files; set the ``oncall`` param to your number.
"""

from __future__ import annotations

import csv
import os
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import DAG, XComArg, task

from airflow_provider_plivo.notifications.plivo import PlivoNotifier
from airflow_provider_plivo.operators.media import PlivoMediaUploadOperator
from airflow_provider_plivo.operators.message import PlivoSendMessageOperator
from airflow_provider_plivo.sensors.message import PlivoMessageSensor

HERE = Path(__file__).resolve().parent
AUDIENCE_CSV = os.environ.get("AUDIENCE_CSV", str(HERE / "audience.csv"))
MEDIA_DIR = os.environ.get("PLIVO_MEDIA_DIR", str(HERE / "media"))
POLL_SECONDS = float(os.environ.get("PLIVO_DELIVERY_POLL_SECONDS", "60"))

with DAG(
    dag_id="example_plivo_audience_campaign",
    schedule="0 9 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"src": "+14155550100", "oncall": "+14155550199"},
    default_args={
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "on_failure_callback": PlivoNotifier(
            src="{{ params.src }}",
            dst="{{ params.oncall }}",
            text="{{ dag.dag_id }}: {{ ti.task_id }} failed for {{ dag_run.run_after | ds }}",
        ),
    },
    tags=["plivo", "example"],
) as dag:

    @task
    def read_audience(path: str = AUDIENCE_CSV) -> list[str]:
        """The ``phone`` column of the audience file (duplicates are fine: each number gets one message)."""
        with open(path, newline="") as audience:
            return [row["phone"] for row in csv.DictReader(audience) if row.get("phone")]

    upload = PlivoMediaUploadOperator(task_id="upload_media", files=f"{MEDIA_DIR}/0[1-3]-*")
    send = PlivoSendMessageOperator(
        task_id="send_mms",
        src="{{ params.src }}",
        dst=read_audience(),
        text="Today's picks for {{ dag_run.run_after | ds }}: reply STOP to opt out.",
        media_ids=upload.output,
    )
    wait = PlivoMessageSensor(
        task_id="wait_for_delivery",
        message_uuids=XComArg(send, key="messages"),  # judged by the numbers messaged
        mode="reschedule",
        poke_interval=POLL_SECONDS,
        timeout=6 * 3600,
    )
    send >> wait
