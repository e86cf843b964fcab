"""Run the example DAGs against the bundled sandbox on embedded SQLite; print what they produced."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

EXAMPLE_DAGS = Path(__file__).resolve().parent.parent / "example_dags"

os.environ.update(
    AIRFLOW_HOME=tempfile.mkdtemp(prefix="plivo-demo-airflow-home-"),
    AIRFLOW__CORE__LOAD_EXAMPLES="False",
    AIRFLOW__CORE__DAGS_FOLDER=str(EXAMPLE_DAGS),
    PLIVO_DELIVERY_POLL_SECONDS="1",
)

from airflow_provider_plivo.sandbox import PlivoSandbox  # noqa: E402
from airflow_provider_plivo.sandbox.dag_runs import (  # noqa: E402
    migrate_metadata_db,
    run_dag_file,
    task_states,
    xcom_value,
)


def run(dag_file: str, upload_task: str) -> bool:
    """Run one example DAG, print its media IDs (and messages); say whether it succeeded."""
    print(f"\n== running {dag_file} with dag.test()", flush=True)
    dag_run = run_dag_file(EXAMPLE_DAGS / dag_file)
    states = task_states(dag_run)
    print(f"\n== {dag_file}: DAG run {dag_run.state}: {states}")
    if states.get(upload_task) == "success":
        for record in xcom_value(dag_run, upload_task, key="media"):
            print(f"{Path(record['file']).name:>16}  media ID {record['media_id']}")
    if states.get("wait_for_delivery") == "success":
        for uuid, state in xcom_value(dag_run, "wait_for_delivery").items():
            print(f"    message {uuid}  {state}")
    return str(dag_run.state) == "success"


def main() -> int:
    with PlivoSandbox() as sandbox:
        os.environ["AIRFLOW_CONN_PLIVO_DEFAULT"] = sandbox.connection_json()
        print(f"== Plivo sandbox at {sandbox.url}; migrating Airflow's SQLite database", flush=True)
        migrate_metadata_db()
        ok = run("example_plivo_media_upload.py", "upload_media")
        ok = run("example_plivo_mms_campaign.py", "upload_media") and ok
        print(f"\n== sandbox holds {len(sandbox.media)} media files and {len(sandbox.messages)} messages")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
