"""Nothing lost, nothing doubled, nothing leaked: real DAG runs against a misbehaving sandbox.

Each test prints its figures (faults injected, files lost, duplicates) so a CI log shows them.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from airflow_provider_plivo.exceptions import PlivoError
from airflow_provider_plivo.hooks.plivo import PlivoHook
from airflow_provider_plivo.version_compat import has_task_state_store
from tests.support import dag_runs

if TYPE_CHECKING:
    from airflow_provider_plivo.sandbox import PlivoSandbox

UPLOAD_DAG = "test_dags/upload_dag.py"
RESUME_DAG = "test_dags/resume_dag.py"
HAS_TASK_STATE_STORE = has_task_state_store()


def figures(sandbox: PlivoSandbox, files: list[str], media_ids: list[str]) -> tuple[int, int, int]:
    """(files lost, extra copies stored, extra copies explained by lost responses)."""
    stored = sandbox.media
    lost = sum(1 for media_id in media_ids if media_id not in stored)
    duplicates = len(stored) - len(set(files))
    from_lost_responses = sum(len(r.file_names) for r in sandbox.requests if r.fault == "lost")
    return lost, duplicates, from_lost_responses


@pytest.mark.dag
def test_200_files_survive_35_percent_faults_in_one_try(
    plivo_sandbox_factory, run_dag, make_media, report_figure
):
    scripted = {2: "html-502", 4: "truncated", 6: "429-retry", 8: "failed-object", 10: "reset"}
    sandbox = plivo_sandbox_factory(fault_rate=0.35, fault_seed=9, faults=scripted)
    files = make_media(200, ("jpg", "png", "gif"))

    dag_run = run_dag(UPLOAD_DAG, files=files)

    assert dag_runs.task_states(dag_run) == {"upload": "success", "receive": "success"}
    media_ids = dag_runs.xcom_value(dag_run, "upload")
    lost, duplicates, from_lost_responses = figures(sandbox, files, media_ids)
    injected = Counter(kind for _, kind in sandbox.faults_injected)
    report_figure(
        f"200 files: {sum(injected.values())} faults injected in {len(sandbox.requests)} requests "
        f"{dict(injected)}; files lost: {lost}; duplicates: {duplicates} "
        f"(from lost responses: {from_lost_responses})"
    )
    random_faults = sum(injected.values()) - len(scripted)
    assert random_faults >= 0.30 * (len(sandbox.requests) - len(scripted)), "the run saw ~35% random faults"
    assert set(scripted.values()) <= set(injected)
    assert lost == 0
    assert duplicates == from_lost_responses
    for path, media_id in zip(files, media_ids, strict=True):
        assert sandbox.media[media_id].data == Path(path).read_bytes(), path


@pytest.mark.dag
@pytest.mark.skipif(not HAS_TASK_STATE_STORE, reason="the task state store arrived in Airflow 3.3")
def test_a_retry_uploads_only_the_chunk_the_failed_try_missed(
    plivo_sandbox_factory, run_dag, make_media, capfd
):
    # The resume DAG's hook makes 2 attempts a request: chunk 2 fails the first try for good.
    sandbox = plivo_sandbox_factory(faults={2: "503", 3: "503"})
    files = make_media(6)

    dag_run = run_dag(RESUME_DAG, files=files)

    assert dag_runs.task_states(dag_run) == {"upload": "success"}
    uploads = [r for r in sandbox.requests if r.method == "POST"]
    assert [r.status for r in uploads] == [200, 503, 503, 200, 200]
    assert uploads[-1].file_names == uploads[1].file_names == ("m02.jpg", "m03.jpg")
    assert len(sandbox.media) == 6
    media_ids = dag_runs.xcom_value(dag_run, "upload")
    for path, media_id in zip(files, media_ids, strict=True):
        assert sandbox.media[media_id].data == Path(path).read_bytes(), path
    assert "Reusing 4 media uploaded by an earlier try; 2 files left" in capfd.readouterr().out


@pytest.mark.dag
@pytest.mark.skipif(HAS_TASK_STATE_STORE, reason="Airflow 3.3+ resumes from the task state store")
def test_without_a_task_state_store_a_retry_uploads_everything_again(
    plivo_sandbox_factory, run_dag, make_media, capfd
):
    sandbox = plivo_sandbox_factory(faults={2: "503", 3: "503"})

    dag_run = run_dag(RESUME_DAG, files=make_media(6))

    assert dag_runs.task_states(dag_run) == {"upload": "success"}
    assert [r.status for r in sandbox.requests] == [200, 503, 503, 200, 200, 200, 200]
    assert "a retry uploads the whole batch again" in capfd.readouterr().out


@pytest.mark.dag
def test_a_hung_request_is_cut_by_the_timeout_and_retried(
    plivo_sandbox_factory, run_dag, make_media, report_figure
):
    sandbox = plivo_sandbox_factory(faults={1: "hang"}, hang_seconds=30, timeout=2)

    started = time.monotonic()
    dag_run = run_dag(UPLOAD_DAG, files=make_media(3))
    elapsed = time.monotonic() - started

    assert dag_runs.task_states(dag_run)["upload"] == "success"
    assert [r.status for r in sandbox.requests] == [0, 200]
    report_figure(f"a 30 s hang with timeout 2 s: the run took {elapsed:.1f} s")
    assert elapsed < 30


@pytest.mark.dag
def test_the_token_reaches_no_log_xcom_or_metadata_row(
    plivo_sandbox_factory, run_dag, make_media, capfd, airflow_home
):
    token = "tok-" + os.urandom(8).hex()
    sandbox = plivo_sandbox_factory(auth_token=token, faults={1: "503", 2: "html-502", 3: "lost"})

    dag_run = run_dag(UPLOAD_DAG, files=make_media(25))
    assert dag_runs.task_states(dag_run)["upload"] == "success"
    assert len(sandbox.requests) > 3

    output = capfd.readouterr()
    assert token not in output.out + output.err
    leaks = [
        path
        for path in airflow_home.rglob("*")
        if path.is_file() and not path.is_symlink() and token.encode() in path.read_bytes()
    ]
    assert leaks == []
    assert any(airflow_home.glob("*.db")), "the metadata database was scanned"


def test_plain_http_to_a_remote_host_is_refused_before_connecting(plivo_env, make_media):
    plivo_env("http://api.plivo.invalid", login="MAXXXXXXXXXXXXXXXXXX", password="secret-token")

    with pytest.raises(PlivoError, match="https is required") as raised:
        PlivoHook().upload_media(make_media(12))

    assert type(raised.value) is PlivoError
    assert str(raised.value).count("https is required") == 1
    assert "secret-token" not in str(raised.value)
