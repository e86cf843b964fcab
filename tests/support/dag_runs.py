"""Test tooling: run a DAG file with ``dag.test()`` and read what the run left behind.

``dag.test()`` only runs DAGs Airflow can serialize from its dags folder, so the file must sit
there (directly or through a symlink), and the metadata database must be migrated first
(:func:`migrate_metadata_db`).

Not a stable API, and not for DAG code. Reading a finished run's XComs and task states from
outside a task has no public Airflow 3 interface except the REST API, which needs a running API
server; so these helpers read the metadata database through Airflow's internal ORM
(``XComModel``, ``TaskInstance``, ``create_session``) and ``airflow.utils.db``. They are kept for
tests and demos, which pin Airflow's version (CI runs them on 3.1.8 and 3.3.2), and may need
changes when Airflow's internals change. Hence here, beside the tests, and out of the wheel: the
tests import it as ``tests.support.dag_runs`` (tests/conftest.py makes the clone importable) and
so does scripts/demo.py.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

__all__ = ["migrate_metadata_db", "run_dag_file", "task_states", "xcom_value"]


def migrate_metadata_db() -> None:
    """Create or upgrade the metadata database of the configured ``AIRFLOW_HOME``."""
    from airflow.utils import db

    db.initdb()


def run_dag_file(path: str | Path, **conf: Any) -> Any:
    """Load the DAG bound to the name ``dag`` in ``path``, run it with ``dag.test()``; return the DagRun."""
    path = Path(path)
    spec = importlib.util.spec_from_file_location(f"dag_file_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load a DAG from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag.test(run_conf=conf or None)


def xcom_value(dag_run: Any, task_id: str, key: str = "return_value") -> Any:
    """The value task ``task_id`` of ``dag_run`` pushed under ``key``; KeyError if it pushed none."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id, task_id=task_id, key=key)
            .one_or_none()
        )
        if row is None:
            raise KeyError(f"task {task_id!r} of {dag_run.run_id} pushed no XCom {key!r}")
        return XComModel.deserialize_value(row)


def task_states(dag_run: Any) -> dict[str, str]:
    """Task ID -> final state of every task instance of ``dag_run``."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(TaskInstance).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id)
        return {ti.task_id: str(ti.state) for ti in rows}
