"""End to end: PlivoMediaUploadOperator in real DAG runs (dag.test() on SQLite) against the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.dag_runs import task_states
from tests.support.dag_runs import xcom_value as xcom

pytestmark = pytest.mark.dag
UPLOAD_DAG = "test_dags/upload_dag.py"


def test_23_mixed_files_take_3_requests_and_keep_input_order(plivo_sandbox, run_dag, make_media):
    files = make_media(23, ("jpg", "png", "gif", "pdf", "mp4"))

    dag_run = run_dag(UPLOAD_DAG, files=files)

    assert task_states(dag_run) == {"upload": "success", "receive": "success"}
    assert plivo_sandbox.count_requests("POST", "/Media/") == 3
    media_ids = xcom(dag_run, "upload")
    assert len(media_ids) == 23
    assert len(set(media_ids)) == 23
    stored = plivo_sandbox.media
    for path, media_id in zip(files, media_ids, strict=True):
        assert stored[media_id].data == Path(path).read_bytes(), path
        assert stored[media_id].file_name == Path(path).name
    records = xcom(dag_run, "upload", key="media")
    assert [r["media_id"] for r in records] == media_ids
    assert [r["file"] for r in records] == files
    assert {r["content_type"] for r in records} == {
        "image/jpeg",
        "image/png",
        "image/gif",
        "application/pdf",
        "video/mp4",
    }
    assert all(r["media_url"] and r["upload_time"] and r["size"] for r in records)
    assert xcom(dag_run, "receive") == media_ids


def test_empty_batch_makes_no_request_and_returns_empty_list(plivo_sandbox, run_dag):
    dag_run = run_dag(UPLOAD_DAG, files=[])

    assert task_states(dag_run) == {"upload": "success", "receive": "success"}
    assert xcom(dag_run, "upload") == []
    assert plivo_sandbox.requests == []


def test_single_path_string_is_one_file(plivo_sandbox, run_dag, make_media):
    (path,) = make_media(1, ("png",))

    dag_run = run_dag(UPLOAD_DAG, files=path)

    media_ids = xcom(dag_run, "upload")
    assert len(media_ids) == 1
    assert plivo_sandbox.media[media_ids[0]].data == Path(path).read_bytes()


def test_wrong_token_fails_without_retry_and_never_logs_the_token(
    plivo_sandbox_factory, run_dag, make_media, capfd, airflow_home
):
    wrong_token = "wrong-token-4f1b9c"
    sandbox = plivo_sandbox_factory(password=wrong_token)

    dag_run = run_dag(UPLOAD_DAG, files=make_media(3))

    assert task_states(dag_run)["upload"] == "failed"
    assert [(r.method, r.status) for r in sandbox.requests] == [("POST", 401)]
    output = capfd.readouterr()
    assert "authentication failed" in output.out.lower()
    assert wrong_token not in output.out + output.err
    for log_file in (airflow_home / "logs").rglob("*"):
        if log_file.is_file():
            assert wrong_token not in log_file.read_text(errors="replace"), log_file


def test_example_dag_uploads_the_shipped_media(plivo_sandbox, run_dag):
    dag_run = run_dag("example_dags/example_plivo_media_upload.py")

    assert task_states(dag_run) == {"upload_media": "success", "use_media_ids": "success"}
    shipped = sorted((Path(__file__).resolve().parents[2] / "example_dags" / "media").iterdir())
    media_ids = xcom(dag_run, "upload_media")
    assert [plivo_sandbox.media[m].data for m in media_ids] == [p.read_bytes() for p in shipped]
    assert xcom(dag_run, "use_media_ids") == len(shipped)
