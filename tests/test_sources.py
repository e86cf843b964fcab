"""Files from anywhere: globs, file:// URIs, object storage (a real S3 server on loopback),
mapped tasks, and lineage."""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path

import pytest
from conftest import DAGS_FOLDER

from airflow_provider_plivo.exceptions import PlivoMediaValidationError
from airflow_provider_plivo.hooks.plivo import PlivoHook
from airflow_provider_plivo.sandbox.dag_runs import task_states, xcom_value
from airflow_provider_plivo.sources import expand_media_entries, media_batches

UPLOAD_DAG = "test_dags/upload_dag.py"


@pytest.fixture(scope="module")
def s3():
    """A moto S3 server on loopback, attached as Airflow's ``s3`` object store through s3fs."""
    import boto3
    import s3fs
    from airflow.sdk.io import attach
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    credentials = {
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "region_name": "us-east-1",
    }
    client = boto3.client("s3", endpoint_url=endpoint, **credentials)
    client.create_bucket(Bucket="mms")
    attach("s3", fs=s3fs.S3FileSystem(key="testing", secret="testing", endpoint_url=endpoint))
    yield client
    server.stop()


def put(client, key: str, data: bytes) -> bytes:
    client.put_object(Bucket="mms", Key=key, Body=data)
    return data


@pytest.mark.dag
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


@pytest.mark.dag
def test_object_storage_uris_paths_and_globs_are_streamed_from_the_store(plivo_sandbox, run_dag, s3):
    from airflow.sdk import ObjectStoragePath

    expected = {
        "s3://mms/2026-11-26/a.jpg": put(s3, "2026-11-26/a.jpg", b"jpeg a" * 100),
        "s3://mms/2026-11-26/b.jpg": put(s3, "2026-11-26/b.jpg", b"jpeg b" * 100),
        "s3://mms/2026-11-26/c.png": put(s3, "2026-11-26/c.png", b"png c" * 100),
        "s3://mms/extra/d.gif": put(s3, "extra/d.gif", b"gif d" * 100),
    }

    records = PlivoHook().upload_media(
        [
            *expand_media_entries(["s3://mms/2026-11-26/*.jpg"]),
            "s3://mms/2026-11-26/c.png",
            ObjectStoragePath("s3://mms/extra/d.gif"),
        ]
    )

    assert [r["file"] for r in records] == list(expected)
    for record in records:
        assert plivo_sandbox.media[record["media_id"]].data == expected[record["file"]]
        assert record["size"] == len(expected[record["file"]])
    assert records[2]["content_type"] == "image/png"

    dag_run = run_dag(UPLOAD_DAG, files=["s3://mms/2026-11-26/*.jpg"])
    media_ids = xcom_value(dag_run, "upload")
    assert [plivo_sandbox.media[m].data for m in media_ids] == [b"jpeg a" * 100, b"jpeg b" * 100]


def test_object_storage_is_validated_from_metadata_before_any_upload(plivo_sandbox, s3):
    put(s3, "bad/huge.jpg", b"x" * 2_000_001)
    put(s3, "bad/empty.png", b"")
    put(s3, "bad/ok.jpg", b"fine")

    with pytest.raises(PlivoMediaValidationError) as raised:
        PlivoHook().upload_media(
            [
                "s3://mms/bad/ok.jpg",
                "s3://mms/bad/huge.jpg",
                "s3://mms/bad/empty.png",
                "s3://mms/bad/gone.gif",
            ]
        )

    assert raised.value.problems == [
        "s3://mms/bad/huge.jpg: 2,000,001 bytes is over Plivo's limit of 2,000,000 bytes per file",
        "s3://mms/bad/empty.png: file is empty",
        "s3://mms/bad/gone.gif: no such file",
    ]
    assert plivo_sandbox.requests == []


@pytest.mark.dag
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


@pytest.mark.dag
def test_lineage_reports_the_files_read_and_the_media_created(plivo_sandbox, airflow_db, make_media):
    path = DAGS_FOLDER / "test_dags" / "lineage_dag.py"
    spec = importlib.util.spec_from_file_location("lineage_dag_under_test", path)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    files = make_media(2, ("png",))

    module.dag.test(run_conf={"files": files})

    (operator,) = module.KeptUploadOperator.executed
    lineage = operator.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [("file", f) for f in files]
    assert sorted(d.name for d in lineage.outputs) == sorted(
        f"{plivo_sandbox.auth_id}/Media/{m}" for m in plivo_sandbox.media
    )
    assert {d.namespace for d in lineage.outputs} == {f"plivo://{plivo_sandbox.url.removeprefix('http://')}"}
