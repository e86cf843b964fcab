"""Errors no retry can fix fail the task on its first try; transient ones use Airflow's retries."""

from __future__ import annotations

from typing import Any

from tests.support.dag_runs import task_states

RETRIED_DAG = "test_dags/retried_dag.py"


def tries(dag_run: Any, task_id: str) -> int:
    (ti,) = [ti for ti in dag_run.get_task_instances() if ti.task_id == task_id]
    return int(ti.try_number)


def test_a_missing_file_fails_the_task_on_its_first_try_before_any_upload(
    plivo_sandbox, run_dag, make_media, tmp_path, capfd
):
    # The rules themselves are tested in test_media.py; here: they run before the first request.
    missing = str(tmp_path / "gone.jpg")

    dag_run = run_dag(RETRIED_DAG, files=[*make_media(4), missing])

    assert task_states(dag_run)["upload"] == "failed"
    assert tries(dag_run, "upload") == 1
    assert plivo_sandbox.count_requests("POST", "/Media/") == 0
    assert plivo_sandbox.media == {}
    out = capfd.readouterr().out
    assert f"{missing}: no such file" in out
    assert "PlivoMediaValidationError" in out


def test_an_unknown_media_id_fails_the_send_on_its_first_try(plivo_sandbox, run_dag, capfd):
    dag_run = run_dag(RETRIED_DAG, media_ids=["0b6e3d3c-0000-4000-8000-000000000000"])

    assert task_states(dag_run)["send"] == "failed"
    assert tries(dag_run, "send") == 1
    assert plivo_sandbox.count_requests("POST", "/Message/") == 1
    assert "PlivoUnknownMediaError" in capfd.readouterr().out


def test_a_transient_upload_failure_uses_the_retries(plivo_sandbox, run_dag, make_media):
    plivo_sandbox.script_faults({1: "503", 2: "503"})

    dag_run = run_dag(RETRIED_DAG, files=make_media(2))

    assert task_states(dag_run)["upload"] == "success"
    assert tries(dag_run, "upload") == 2
    assert len(plivo_sandbox.media) == 2
