"""Daily MMS campaign: upload the creatives, send one MMS to the audience, wait for delivery.

Upload and send run in the same DAG run because Plivo deletes media no message used within
6 hours. The audience is a DAG param (override it per run); failed deliveries fail the
``wait_for_delivery`` task at once, naming each number with Plivo's error code.
``PLIVO_DELIVERY_POLL_SECONDS`` sets how often delivery is checked (default 60).
"""

from __future__ import annotations

import os
from pathlib import Path

import pendulum
from airflow.sdk import DAG, XComArg

from airflow_provider_plivo.operators.media import PlivoMediaUploadOperator
from airflow_provider_plivo.operators.message import PlivoSendMessageOperator
from airflow_provider_plivo.sensors.message import PlivoMessageSensor

MEDIA_DIR = Path(__file__).resolve().parent / "media"
CREATIVES = ["01-sunrise.jpg", "02-ocean.png", "03-forest.gif"]

with DAG(
    dag_id="example_plivo_mms_campaign",
    schedule="0 9 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"src": "+14155550100", "audience": ["+14155550101", "+14155550102"]},
    tags=["plivo", "example"],
    doc_md=__doc__,
) as dag:
    upload = PlivoMediaUploadOperator(
        task_id="upload_media",
        files=[str(MEDIA_DIR / name) for name in CREATIVES],
    )
    send = PlivoSendMessageOperator(
        task_id="send_mms",
        src="{{ params.src }}",
        dst="{{ params.audience }}",
        text="Today's picks for {{ dag_run.run_after | ds }}: reply STOP to opt out.",
        media_ids=upload.output,
    )
    wait = PlivoMessageSensor(
        task_id="wait_for_delivery",
        message_uuids=XComArg(send, key="messages"),  # judged by the numbers messaged
        mode="reschedule",
        poke_interval=float(os.environ.get("PLIVO_DELIVERY_POLL_SECONDS", "60")),
        timeout=60 * 60,
    )
