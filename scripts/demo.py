"""Run the example DAGs against the bundled sandbox on embedded SQLite; print what they produced.

Airflow logs only warnings and errors here, so a failing task still shows its error; the demo
ends with its own summary, and exits 1 when a DAG run did not succeed.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

EXAMPLE_DAGS = Path(__file__).resolve().parent.parent / "example_dags"

os.environ.update(
    AIRFLOW_HOME=tempfile.mkdtemp(prefix="plivo-demo-airflow-home-"),
    AIRFLOW__CORE__LOAD_EXAMPLES="False",
    AIRFLOW__CORE__DAGS_FOLDER=str(EXAMPLE_DAGS),
    # Airflow's INFO lines (migrations, DAG parsing, task bookkeeping) would bury the summary.
    AIRFLOW__LOGGING__LOGGING_LEVEL="WARNING",
    PLIVO_DELIVERY_POLL_SECONDS="1",
)

# The demo runs from a clone: its test tooling (tests/support) is importable from the clone's root,
# appended after site-packages so that the installed package is the one the demo runs.
sys.path.append(str(EXAMPLE_DAGS.parent))

from airflow_provider_plivo.sandbox import PlivoSandbox  # noqa: E402
from tests.support.dag_runs import (  # noqa: E402
    migrate_metadata_db,
    run_dag_file,
    task_states,
    xcom_value,
)

SENT_MEANS = (
    "`sent`: Plivo handed the message to the carrier. Carriers in the US and Canada (+1) send no "
    "delivery reports, so for +1 numbers `sent` is final: count it as delivered."
)


class _NotAFailure(logging.Filter):
    """dag.test() warns "No tasks to run" every second a reschedule-mode sensor waits."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("No tasks to run")


def run(dag_file: str) -> tuple[Any, dict[str, str]]:
    """Run one example DAG with dag.test(); return the DagRun and its task states."""
    print(f"== running {Path(dag_file).stem} with dag.test()", flush=True)
    dag_run = run_dag_file(EXAMPLE_DAGS / dag_file)
    return dag_run, task_states(dag_run)


def summary(dag_run: Any, states: dict[str, str]) -> list[str]:
    """What one run produced: its outcome, the media ID of each file, each message's state."""
    ok = str(dag_run.state) == "success"
    lines = [f"{dag_run.dag_id}: {'success' if ok else f'FAILED {states}'}"]
    if states.get("upload_media") == "success":
        for record in xcom_value(dag_run, "upload_media", key="media"):
            lines.append(f"  {Path(record['file']).name:<16} media ID {record['media_id']}")
    if states.get("wait_for_delivery") == "success":
        final = xcom_value(dag_run, "wait_for_delivery")
        for message in xcom_value(dag_run, "send_mms", key="messages"):
            uuid = message["message_uuid"]
            lines.append(f"  MMS to {message['number']:<13} message {uuid}  {final[uuid]}")
    return lines


def main() -> int:
    with PlivoSandbox() as sandbox:
        os.environ["AIRFLOW_CONN_PLIVO_DEFAULT"] = sandbox.connection_json()
        print(f"== Plivo sandbox at {sandbox.url}; migrating Airflow's SQLite database", flush=True)
        migrate_metadata_db()
        logging.getLogger("airflow.sdk.definitions.dag").addFilter(_NotAFailure())
        runs = [run("example_plivo_media_upload.py"), run("example_plivo_mms_campaign.py")]
        print("\n== summary")
        for dag_run, states in runs:
            print("\n".join(summary(dag_run, states)))
        print(SENT_MEANS)
        print(f"The sandbox holds {len(sandbox.media)} media files and {len(sandbox.messages)} messages.")
    return 0 if all(str(dag_run.state) == "success" for dag_run, _ in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
