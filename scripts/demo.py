"""Run the example DAG against the bundled sandbox on embedded SQLite; print the media IDs."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_DAG = REPO / "example_dags" / "example_plivo_media_upload.py"

os.environ.update(
    AIRFLOW_HOME=tempfile.mkdtemp(prefix="plivo-demo-airflow-home-"),
    AIRFLOW__CORE__LOAD_EXAMPLES="False",
    AIRFLOW__CORE__DAGS_FOLDER=str(EXAMPLE_DAG.parent),
)

from airflow_provider_plivo.sandbox import PlivoSandbox  # noqa: E402
from airflow_provider_plivo.sandbox.dag_runs import (  # noqa: E402
    migrate_metadata_db,
    run_dag_file,
    task_states,
    xcom_value,
)


def main() -> int:
    with PlivoSandbox() as sandbox:
        os.environ["AIRFLOW_CONN_PLIVO_DEFAULT"] = sandbox.connection_json()
        print(f"== Plivo sandbox at {sandbox.url}; migrating Airflow's SQLite database", flush=True)
        migrate_metadata_db()
        print(f"== running {EXAMPLE_DAG.name} with dag.test()", flush=True)
        dag_run = run_dag_file(EXAMPLE_DAG)
        states = task_states(dag_run)
        print(f"\n== DAG run {dag_run.state}: {states}")
        if states.get("upload_media") != "success":
            return 1
        for record in xcom_value(dag_run, "upload_media", key="media"):
            print(f"{Path(record['file']).name:>16}  media ID {record['media_id']}")
        print(f"== {len(sandbox.media)} files stored in the sandbox")
    return 0 if str(dag_run.state) == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
