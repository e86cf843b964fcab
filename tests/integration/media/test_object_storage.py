"""Object storage as users meet it: Airflow ``aws`` connections (the Amazon provider's s3fs file
system) to a real S3 server (moto) on loopback that checks every request's keys against IAM.

``aws_media`` may read the bucket, ``aws_refused`` holds valid keys of a user with no rights, and
``aws_down`` points at a closed port. Every failure must be named before Plivo hears of anything.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest
import requests

from airflow_provider_plivo.exceptions import (
    PlivoMediaFileChangedError,
    PlivoMediaSourceError,
    PlivoMediaValidationError,
)
from airflow_provider_plivo.hooks.plivo import PlivoHook
from airflow_provider_plivo.media.sources import (
    could_not_connect,
    expand_media_entries,
    media_file,
    store_failure,
)
from tests.support.dag_runs import task_states, xcom_value

if TYPE_CHECKING:
    from collections.abc import Iterator

UPLOAD_DAG = "test_dags/upload_dag.py"
ALLOW_S3 = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}


class S3:
    """The moto server: a boto3 client with the reader's keys, and the refused user's secret."""

    def __init__(self, client: Any, refused_secret: str) -> None:
        self.client = client
        self.refused_secret = refused_secret

    def put(self, key: str, data: bytes) -> bytes:
        self.client.put_object(Bucket="mms", Key=key, Body=data)
        return data


def _access_key(iam: Any, user: str, policy: dict[str, Any] | None) -> dict[str, str]:
    iam.create_user(UserName=user)
    if policy:
        iam.put_user_policy(UserName=user, PolicyName="media", PolicyDocument=json.dumps(policy))
    key: dict[str, str] = iam.create_access_key(UserName=user)["AccessKey"]
    return key


def _aws_connection(key: dict[str, str], endpoint: str) -> str:
    return json.dumps(
        {
            "conn_type": "aws",
            "login": key["AccessKeyId"],
            "password": key["SecretAccessKey"],
            "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
        }
    )


@pytest.fixture(scope="module")
def s3(refused_port: int) -> Iterator[S3]:
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    anyone = {"region_name": "us-east-1", "aws_access_key_id": "setup", "aws_secret_access_key": "setup"}
    iam = boto3.client("iam", endpoint_url=endpoint, **anyone)
    reader = _access_key(iam, "media-reader", ALLOW_S3)
    stranger = _access_key(iam, "stranger", None)
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=reader["AccessKeyId"],
        aws_secret_access_key=reader["SecretAccessKey"],
    )
    client.create_bucket(Bucket="mms")
    # From here on moto authenticates and authorises every request against its IAM users.
    requests.post(f"{endpoint}/moto-api/reset-auth", data=b"0", timeout=10).raise_for_status()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AIRFLOW_CONN_AWS_MEDIA", _aws_connection(reader, endpoint))
        env.setenv("AIRFLOW_CONN_AWS_REFUSED", _aws_connection(stranger, endpoint))
        env.setenv("AIRFLOW_CONN_AWS_DOWN", _aws_connection(reader, f"http://127.0.0.1:{refused_port}"))
        yield S3(client, stranger["SecretAccessKey"])
    requests.post(f"{endpoint}/moto-api/reset-auth", data=b"inf", timeout=10)
    server.stop()


@pytest.mark.dag
def test_globs_named_uris_and_object_storage_paths_upload_through_an_aws_connection(
    plivo_sandbox, run_dag, s3
):
    from airflow.sdk import ObjectStoragePath

    a = s3.put("day/a.jpg", b"jpeg a" * 100)
    b = s3.put("day/b.jpg", b"jpeg b" * 100)
    c = s3.put("day/c.png", b"png c" * 100)
    d = s3.put("extra/d.gif", b"gif d" * 100)

    dag_run = run_dag(UPLOAD_DAG, files=["s3://aws_media@mms/day/*.jpg", "s3://aws_media@mms/day/c.png"])
    records = PlivoHook().upload_media([ObjectStoragePath("s3://mms/extra/d.gif", conn_id="aws_media")])

    assert task_states(dag_run)["upload"] == "success"
    records = xcom_value(dag_run, "upload", key="media") + records
    # Glob matches and ObjectStoragePath entries are recorded by URI, without the connection;
    # a URI entry as it was written.
    assert [r["file"] for r in records] == [
        "s3://mms/day/a.jpg",
        "s3://mms/day/b.jpg",
        "s3://aws_media@mms/day/c.png",
        "s3://mms/extra/d.gif",
    ]
    assert [plivo_sandbox.media[r["media_id"]].data for r in records] == [a, b, c, d]
    assert [r["size"] for r in records] == [600, 600, 500, 500]
    assert records[2]["content_type"] == "image/png"


def test_a_name_that_exists_is_that_object_even_with_glob_characters(s3):
    s3.put("names/photo[1].jpg", b"the bracketed one")
    s3.put("names/photo1.jpg", b"a file the pattern would match")

    (named,) = expand_media_entries(["s3://aws_media@mms/names/photo[1].jpg"])
    (matched,) = expand_media_entries(["glob:s3://aws_media@mms/names/photo[1].jpg"])

    assert named.source == "s3://aws_media@mms/names/photo[1].jpg"
    assert named.info().size == len(b"the bracketed one")
    assert matched.source == "s3://mms/names/photo1.jpg"


def test_every_bad_object_is_named_with_its_connection_before_any_upload(plivo_sandbox, s3):
    s3.put("bad/ok.jpg", b"fine")
    s3.put("bad/huge.jpg", b"x" * 2_000_001)
    s3.put("bad/empty.png", b"")
    s3.put("bad/program.exe", b"MZ")

    with pytest.raises(PlivoMediaValidationError) as raised:
        PlivoHook().upload_media(
            [
                "s3://aws_media@mms/bad/ok.jpg",
                "s3://aws_media@mms/bad/huge.jpg",
                "s3://aws_media@mms/bad/empty.png",
                "s3://aws_media@mms/bad/program.exe",
                "s3://aws_media@mms/bad/gone.gif",
                "s3://aws_refused@mms/bad/ok.jpg",
            ]
        )

    assert raised.value.problems == [
        "s3://aws_media@mms/bad/huge.jpg: 2,000,001 bytes is over Plivo's limit of 2,000,000 bytes per file",
        "s3://aws_media@mms/bad/empty.png: file is empty",
        "s3://aws_media@mms/bad/program.exe: type '.exe' is not accepted for MMS (accepted: .jpg, .jpeg, "
        ".png, .gif, .mp4, .pdf, .txt)",
        "s3://aws_media@mms/bad/gone.gif: no such file",
        "s3://mms/bad/ok.jpg (connection aws_refused): access denied (Forbidden)",
    ]
    refused = raised.value.__cause__
    assert isinstance(refused, PlivoMediaSourceError)
    assert refused.conn_id == "aws_refused"
    assert isinstance(refused.__cause__, PermissionError)
    assert s3.refused_secret not in str(raised.value)
    assert plivo_sandbox.requests == []


def test_an_unreachable_store_is_named_once_not_waited_out_per_file(plivo_sandbox, s3):
    with pytest.raises(PlivoMediaValidationError) as raised:
        PlivoHook().upload_media(["s3://aws_down@mms/a.jpg", "s3://aws_down@mms/b.jpg"])

    first, second = raised.value.problems
    assert first.startswith(
        "s3://mms/a.jpg (connection aws_down): could not connect (Could not connect to the endpoint URL: "
    )
    assert (
        second == "s3://aws_down@mms/b.jpg: not checked, as its store could not be reached for s3://mms/a.jpg"
    )
    assert raised.value.__cause__ is not None
    assert type(raised.value.__cause__.__cause__).__name__ == "EndpointConnectionError"
    assert plivo_sandbox.requests == []


def test_a_glob_over_a_store_that_refuses_or_cannot_be_reached_names_pattern_and_connection(s3):
    with pytest.raises(PlivoMediaValidationError) as raised:
        expand_media_entries(["s3://aws_refused@mms/day/*.jpg", "s3://aws_down@mms/day/*.jpg"])

    refused, down = raised.value.problems
    assert refused == "s3://mms/day/*.jpg (connection aws_refused): access denied (Forbidden)"
    assert down.startswith("s3://mms/day/*.jpg (connection aws_down): could not connect (")
    assert raised.value.__cause__ is not None
    assert isinstance(raised.value.__cause__.__cause__, PermissionError)


def _failed_with(cause: Exception) -> Exception:
    try:
        raise RuntimeError("the store's wrapper") from cause
    except RuntimeError as err:
        return err


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (FileNotFoundError("mms/a.jpg"), "no such file"),
        (PermissionError("Access Denied"), "access denied (Access Denied)"),
        (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), "could not connect ("),
        (OSError(errno.EHOSTUNREACH, "No route to host"), "could not connect ("),
        (_failed_with(OSError(errno.ENETUNREACH, "Network is unreachable")), "could not connect ("),
        (ValueError("a store error of its own"), "could not be read: ValueError: a store error of its own"),
    ],
)
def test_store_errors_are_told_apart_by_type_whatever_the_store(error, words):
    assert store_failure(error).startswith(words)


def test_connection_errors_of_the_store_libraries_read_as_could_not_connect(refused_port):
    import aiohttp
    from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError

    assert store_failure(EndpointConnectionError(endpoint_url="http://127.0.0.1:1/mms/a.jpg")) == (
        'could not connect (Could not connect to the endpoint URL: "http://127.0.0.1:1/mms/a.jpg")'
    )
    assert store_failure(ConnectTimeoutError(endpoint_url="http://127.0.0.1:1")).startswith(
        "could not connect"
    )
    assert not could_not_connect(PermissionError("Forbidden"))

    async def connect_to_a_closed_port() -> None:
        async with aiohttp.ClientSession() as session:
            await session.get(f"http://127.0.0.1:{refused_port}/")

    with pytest.raises(aiohttp.ClientConnectorError) as raised:
        asyncio.run(connect_to_a_closed_port())
    assert store_failure(raised.value).startswith("could not connect (Cannot connect to host 127.0.0.1:")


@pytest.mark.dag
def test_an_upload_task_globbing_an_unreachable_store_fails_without_a_request(plivo_sandbox, run_dag, s3):
    dag_run = run_dag(UPLOAD_DAG, files=["s3://aws_down@mms/day/*.jpg"])

    assert task_states(dag_run)["upload"] == "failed"
    assert plivo_sandbox.requests == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("delete", "deleted after validation"),
        ("shrink", "shrank after validation: now 10 bytes, validated as 1,000"),
        ("grow", "grew after validation: now 2,000 bytes, validated as 1,000"),
        ("replace", "replaced after validation (its ETag changed)"),
    ],
)
def test_an_object_changed_after_validation_is_not_sent(s3, change, reason):
    key = f"changed/{change}.jpg"
    s3.put(key, b"v" * 1_000)
    file = media_file(f"s3://aws_media@mms/{key}")
    assert file.info().size == 1_000

    if change == "delete":
        s3.client.delete_object(Bucket="mms", Key=key)
    else:
        s3.put(key, b"w" * {"shrink": 10, "grow": 2_000, "replace": 1_000}[change])
    with pytest.raises(PlivoMediaFileChangedError) as raised:
        file.open()

    assert raised.value.reason == reason
    assert str(raised.value) == f"s3://aws_media@mms/{key}: {reason}"


def test_an_unchanged_object_streams_exactly_its_validated_bytes(s3):
    data = s3.put("stream/whole.jpg", bytes(range(256)) * 40)
    file = media_file("s3://aws_media@mms/stream/whole.jpg")
    file.info()

    stream = file.open()
    chunks = []
    while stream.len:
        left = stream.len
        chunks.append(stream.read(1_000))
        assert stream.len == left - len(chunks[-1])
    stream.close()

    assert b"".join(chunks) == data


@pytest.mark.dag
def test_the_openlineage_listener_reports_one_dataset_per_object(
    plivo_sandbox, airflow_db, dags_folder, s3, tmp_path
):
    s3.put("lineage/a.jpg", b"jpeg a")
    s3.put("lineage/b.jpg", b"jpeg b")
    local = tmp_path / "local.png"
    local.write_bytes(b"png")
    events = tmp_path / "openlineage.jsonl"
    files = [str(local), "s3://aws_media@mms/lineage/a.jpg", "s3://aws_media@mms/lineage/*.jpg"]

    # A process of its own, as a worker is: the listener is registered when Airflow loads its
    # plugins, once per process, and only if OpenLineage is configured by then.
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys; sys.path.append(sys.argv[3]); "
            "from tests.support.dag_runs import run_dag_file; "
            "run_dag_file(sys.argv[1], files=json.loads(sys.argv[2]))",
            str(dags_folder / "test_dags" / "lineage_dag.py"),
            json.dumps(files),
            os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        ],
        env={
            **os.environ,
            "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
                {"type": "file", "log_file_path": str(events), "append": True}
            ),
        },
        check=True,
        timeout=300,
    )

    (complete,) = [
        event
        for event in map(json.loads, events.read_text().splitlines())
        if event["eventType"] == "COMPLETE" and event["job"]["name"] == "plivo_lineage_test.upload"
    ]
    assert [(d["namespace"], d["name"]) for d in complete["inputs"]] == [
        ("file", str(local)),
        ("s3://mms", "lineage/a.jpg"),
        ("s3://mms", "lineage/b.jpg"),
    ]
    plivo = plivo_sandbox.url.removeprefix("http://")
    assert sorted((d["namespace"], d["name"]) for d in complete["outputs"]) == sorted(
        (f"plivo://{plivo}", f"{plivo_sandbox.auth_id}/Media/{media_id}") for media_id in plivo_sandbox.media
    )
