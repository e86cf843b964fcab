"""A SIGKILLed upload task and its retry, with Airflow's real task state store: the retry finds
what the killed try's requests stored in Plivo's media list and uploads none of it again.

``dag.test()`` runs a task in its own process, and a second ``dag.test()`` replaces the DAG run
(and with it the task state store's rows), so the first try runs in a child process that the
test kills, and the retry is run here on the same task instance, as ``dag.test()`` runs a
task (Airflow internals: tests only, like tests/support/dag_runs.py).
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_plivo.version_compat import has_task_state_store
from tests.support.dag_runs import task_states, xcom_value

REPO = Path(__file__).resolve().parents[2]
KILLED_DAG = "test_dags/killed_upload_dag.py"

pytestmark = [
    pytest.mark.dag,
    pytest.mark.skipif(not has_task_state_store(), reason="the task state store arrived in Airflow 3.3"),
]


def start_dag_test(path: Path, log: Path, **conf: Any) -> subprocess.Popen[bytes]:
    """``dag.test()`` of the DAG file at ``path`` in a child process (its output in ``log``)."""
    code = (
        "import json, sys; sys.path.append(sys.argv[1]); "
        "from tests.support.dag_runs import run_dag_file; "
        "run_dag_file(sys.argv[2], **json.loads(sys.argv[3]))"
    )
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-c", code, str(REPO), str(path), json.dumps(conf)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd="/",
        )


def retry_task(path: Path, task_id: str) -> Any:
    """Run the next try of ``task_id`` in the latest run of the DAG at ``path``, as ``dag.test()``
    runs a task; return the DAG run."""
    from airflow.models.dagrun import DagRun
    from airflow.sdk.definitions.dag import _run_task
    from airflow.utils.session import create_session

    spec = importlib.util.spec_from_file_location(f"dag_file_{path.stem}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dag = module.dag
    with create_session() as session:
        dag_run = session.query(DagRun).filter_by(dag_id=dag.dag_id).order_by(DagRun.id.desc()).limit(1).one()
        run = SimpleNamespace(dag_id=dag_run.dag_id, run_id=dag_run.run_id)
        ti = dag_run.get_task_instance(task_id, session=session)
        assert ti is not None
        ti.try_number += 1
        session.commit()
        _run_task(ti=ti, task=dag.task_dict[task_id])
    return run


def test_a_task_sigkilled_with_30_chunks_in_flight_then_retried_stores_every_file_once(
    plivo_sandbox_factory, run_dag, dags_folder, make_media, tmp_path, capfd, report_figure
):
    run_dag  # noqa: B018 (the fixture migrates the metadata database)
    sandbox = plivo_sandbox_factory(latency_ms=3000)  # holds the 30 requests in flight
    files = make_media(300)
    path = dags_folder / KILLED_DAG

    first_try = start_dag_test(path, tmp_path / "first-try.log", files=files)
    deadline = time.monotonic() + 120
    while sandbox.count_requests("POST", "/Media/") < 30 and first_try.poll() is None:
        assert time.monotonic() < deadline, (tmp_path / "first-try.log").read_text()
        time.sleep(0.01)
    os.kill(first_try.pid, signal.SIGKILL)
    first_try.wait()
    in_flight = sandbox.count_requests("POST", "/Media/")
    sandbox.set_latency(0)  # the retry need not wait
    stored_by_killed_try = len(sandbox.media)

    dag_run = retry_task(path, "upload")

    assert task_states(dag_run) == {"upload": "success"}
    media_ids = xcom_value(dag_run, "upload")
    extra = len(sandbox.media) - len(files)
    report_figure(
        f"SIGKILL with {in_flight} upload requests in flight ({stored_by_killed_try} files stored), "
        f"then a retry: {len(sandbox.media)} stored for {len(files)} files ({extra} extra), "
        f"{sandbox.count_requests('POST', '/Media/') - in_flight} uploads by the retry"
    )
    assert in_flight == 30
    assert stored_by_killed_try == 300  # the sandbox stores a request before its latency
    # Every file the media list shows is reused: none stored twice, no upload by the retry.
    assert extra == 0
    assert sandbox.count_requests("POST", "/Media/") == 30
    assert len(media_ids) == len(set(media_ids)) == 300
    assert set(media_ids) == set(sandbox.media)
    for file, media_id in zip(files, media_ids, strict=True):
        assert sandbox.media[media_id].data == Path(file).read_bytes(), file
    assert "Plivo's media list shows every one stored; they are reused" in capfd.readouterr().out
