"""Local files from globs and file:// URIs, and mapped tasks. Object storage: test_object_storage.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_plivo.media.sources import expand_media_entries, media_batches
from tests.support.dag_runs import task_states, xcom_value

UPLOAD_DAG = "test_dags/upload_dag.py"


def test_a_glob_and_a_file_uri_upload_exactly_the_files_they_name(
    plivo_sandbox, run_dag, make_media, tmp_path
):
    folder = tmp_path / "day"
    jpgs = make_media(7, ("jpg",), folder=folder)
    pngs = [str(folder / f"m{i:02d}.png") for i in range(8, 12)]
    for path in pngs:
        Path(path).write_bytes(b"png " + path.encode())
    files = [f"{folder}/*.jpg", f"file://{folder}/m08.png"]

    dag_run = run_dag(UPLOAD_DAG, files=files)

    assert task_states(dag_run)["upload"] == "success"
    assert plivo_sandbox.count_requests("POST", "/Media/") == 1
    records = xcom_value(dag_run, "upload", key="media")
    assert [r["file"] for r in records] == [*jpgs, f"file://{folder}/m08.png"]
    assert len(plivo_sandbox.media) == 8
    for record in records:
        path = record["file"].removeprefix("file://")
        assert plivo_sandbox.media[record["media_id"]].data == Path(path).read_bytes()


def test_a_glob_that_matches_nothing_is_an_empty_batch(tmp_path):
    empty_globs: list[str] = []

    files = expand_media_entries([f"{tmp_path}/*.jpg"], on_empty_glob=empty_globs.append)

    assert files == []
    assert empty_globs == [f"{tmp_path}/*.jpg"]


def test_three_mapped_instances_give_45_distinct_ids_downstream(plivo_sandbox, run_dag, make_media):
    files = make_media(45, ("jpg", "png", "gif"))

    dag_run = run_dag("test_dags/mapped_dag.py", files=files)

    assert task_states(dag_run)["collect"] == "success"
    media_ids = xcom_value(dag_run, "collect")
    assert len(media_ids) == len(set(media_ids)) == 45
    assert sorted(plivo_sandbox.media) == sorted(media_ids)
    assert plivo_sandbox.count_requests("POST", "/Media/") == 6


def test_media_batches_split_in_order():
    assert media_batches(list("abcdefg"), 3) == [["a", "b", "c"], ["d", "e", "f"], ["g"]]
    assert media_batches([], 3) == []
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        media_batches(["a"], 0)
