"""The DAGs ``benchmarks/deployment.py`` runs in its deployment (not examples: measurements).

``PLIVO_DEPLOY_FILES`` (set by deployment.py for every Airflow process) names the folder the
benchmark filled: ``shared<N>/`` with 1,000 files for each mapped upload sharing the account,
``kill/`` with the 300 files of the killed upload. Every DAG runs only when triggered.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import DAG, XComArg

from airflow_provider_plivo.operators.media import PlivoMediaUploadOperator
from airflow_provider_plivo.operators.message import PlivoSendMessageOperator
from airflow_provider_plivo.sensors.message import PlivoMessageSensor

FILES = os.environ.get("PLIVO_DEPLOY_FILES", "/nonexistent")
START = pendulum.datetime(2026, 1, 1, tz="UTC")
SRC = "+14155550100"
SEND_NUMBERS = 3000
"""Three requests of 1,000 numbers: the killed send has three in flight."""
MODES = {"adaptive": {}, "fixed16": {"adaptive": False, "max_concurrency": 16}}
"""The hook's settings compared: its default, and the hook as it was before it adapted."""
RETRY = {"retries": 1, "retry_delay": timedelta(seconds=2)}
"""The killed tasks' one retry, soon: the retry is what is measured."""


def numbers(count: int) -> list[str]:
    """Distinct North American numbers the hook accepts (exchange 2XX, San Francisco's 415)."""
    return [f"+1415{200 + n // 10000:03d}{n % 10000:04d}" for n in range(count)]


for tasks in (3, 6):
    for mode, hook_params in MODES.items():
        with DAG(dag_id=f"deploy_upload_{tasks}_{mode}", schedule=None, start_date=START, catchup=False):
            PlivoMediaUploadOperator.partial(task_id="upload", hook_params=hook_params).expand(
                files=[f"{FILES}/shared{task}/*" for task in range(tasks)]
            )

with DAG(dag_id="deploy_upload_kill", schedule=None, start_date=START, catchup=False):
    PlivoMediaUploadOperator(task_id="upload", files=f"{FILES}/kill/*", **RETRY)

with DAG(dag_id="deploy_send_kill", schedule=None, start_date=START, catchup=False):
    PlivoSendMessageOperator(
        task_id="send", src=SRC, dst=numbers(SEND_NUMBERS), text="deployment benchmark", **RETRY
    )

with DAG(dag_id="deploy_sensor_outage", schedule=None, start_date=START, catchup=False):
    send = PlivoSendMessageOperator(task_id="send", src=SRC, dst=numbers(3), text="outage benchmark")
    # No Airflow retries: the sensor must ride out the outage within its first try.
    for mode, deferrable in (("poke", False), ("deferrable", True)):
        PlivoMessageSensor(
            task_id=f"wait_{mode}",
            message_uuids=XComArg(send, key="messages"),
            deferrable=deferrable,
            poke_interval=5,
            timeout=600,
            retries=0,
        )
