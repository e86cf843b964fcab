"""The sandbox speaks Plivo's wire format: auth, limits, pagination, errors, faults, CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from airflow_provider_plivo.sandbox import PlivoSandbox
from airflow_provider_plivo.sandbox.faults import FaultPlan
from airflow_provider_plivo.sandbox.pytest_plugin import SandboxFactory


def media_url(sandbox: PlivoSandbox, suffix: str = "") -> str:
    return f"{sandbox.url}/v1/Account/{sandbox.auth_id}/Media/{suffix}"


def upload(sandbox: PlivoSandbox, files: list[tuple[str, bytes]], auth=None) -> requests.Response:
    parts = [("file", (name, data, "image/png")) for name, data in files]
    return requests.post(
        media_url(sandbox), files=parts, auth=auth or (sandbox.auth_id, sandbox.auth_token), timeout=5
    )


@pytest.fixture
def sandbox():
    with PlivoSandbox() as running:
        yield running


def test_upload_answers_in_plivos_shape_and_serves_the_bytes(sandbox):
    data = b"\x89PNG\r\n--x\r\n\x00binary"
    response = upload(sandbox, [("a.png", data), ("b.png", b"two")])

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"api_id", "objects"}
    first = body["objects"][0]
    assert first["file_name"] == "a.png"
    assert first["content_type"] == "image/png"
    assert first["size"] == len(data)
    assert first["status"] == "success"
    assert first["status_code"] == 201
    assert first["upload_time"].endswith("Z")
    assert requests.get(first["media_url"], timeout=5).content == data


@pytest.mark.parametrize(
    "auth", [("MASANDBOX00000000000", "wrong"), ("MAOTHER0000000000000", "sandbox-auth-token"), None]
)
def test_bad_credentials_get_401_with_plivos_error_body(sandbox, auth):
    response = requests.get(media_url(sandbox), auth=auth, timeout=5)

    assert response.status_code == 401
    assert set(response.json()) == {"api_id", "error"}


def test_more_than_10_files_or_a_file_over_2mb_is_refused(sandbox):
    too_many = upload(sandbox, [(f"{i}.png", b"x") for i in range(11)])
    too_big = upload(sandbox, [("big.png", b"x" * 2_000_001)])

    assert too_many.status_code == 400
    assert "at most 10" in too_many.json()["error"]
    assert too_big.status_code == 400
    assert "big.png" in too_big.json()["error"]
    assert sandbox.media == {}


def test_listing_pages_like_plivo(sandbox):
    for i in range(3):
        upload(sandbox, [(f"{i}.png", b"x")])
    auth = (sandbox.auth_id, sandbox.auth_token)

    first = requests.get(media_url(sandbox), params={"limit": 2}, auth=auth, timeout=5).json()
    last = requests.get(media_url(sandbox), params={"limit": 2, "offset": 2}, auth=auth, timeout=5).json()
    too_big = requests.get(media_url(sandbox), params={"limit": 21}, auth=auth, timeout=5)

    assert first["meta"]["total_count"] == 3
    assert first["meta"]["next"].endswith("limit=2&offset=2")
    assert first["meta"]["previous"] is None
    assert last["meta"]["next"] is None
    assert len(first["objects"]) + len(last["objects"]) == 3
    assert too_big.status_code == 400


def test_a_malformed_multipart_body_gets_400_saying_why(sandbox):
    response = requests.post(
        media_url(sandbox),
        data=b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\ncut',
        headers={"Content-Type": "multipart/form-data; boundary=B"},
        auth=(sandbox.auth_id, sandbox.auth_token),
        timeout=5,
    )

    assert response.status_code == 400
    assert "no closing boundary" in response.json()["error"]
    assert sandbox.media == {}


def test_server_rate_limit_answers_429_beyond_the_window():
    with PlivoSandbox(rate_limit=(2, 60)) as limited:
        auth = (limited.auth_id, limited.auth_token)
        statuses = [requests.get(media_url(limited), auth=auth, timeout=5).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]


def test_unknown_media_and_paths_get_404(sandbox):
    auth = (sandbox.auth_id, sandbox.auth_token)
    assert requests.get(media_url(sandbox, "nope/"), auth=auth, timeout=5).status_code == 404
    assert requests.get(f"{sandbox.url}/v1/Nothing/", auth=auth, timeout=5).status_code == 404


def test_random_faults_repeat_with_the_same_seed():
    def draw(seed: int) -> list[str | None]:
        plan = FaultPlan(rate=0.5, seed=seed)
        return [plan.next_request() for _ in range(40)]

    assert draw(7) == draw(7)
    assert draw(7) != draw(8)
    assert 5 < sum(kind is not None for kind in draw(7)) < 35


def test_unknown_fault_kind_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="unknown fault kind 'teapot'; known kinds: 400, 500"):
        PlivoSandbox(faults={1: "teapot"})


def test_cli_serves_until_terminated(tmp_path):
    process = subprocess.Popen(
        [
            os.path.join(os.path.dirname(sys.executable), "plivo-sandbox"),
            "--port",
            "0",
            "--auth-id",
            "MACLI000000000000000",
            "--auth-token",
            "cli-token",
            "--fault",
            "1:503",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[-1]
        assert "AIRFLOW_CONN_PLIVO_DEFAULT" in process.stdout.readline()
        auth = ("MACLI000000000000000", "cli-token")
        api = f"{url}/v1/Account/MACLI000000000000000/Media/"
        first = requests.post(api, files=[("file", ("a.png", b"x", "image/png"))], auth=auth, timeout=5)
        second = requests.post(api, files=[("file", ("a.png", b"x", "image/png"))], auth=auth, timeout=5)
        assert (first.status_code, second.status_code) == (503, 200)
        stats = requests.get(f"{url}/_sandbox/stats", timeout=5).json()
        assert (stats["requests"], stats["statuses"], stats["media"]) == (2, {"503": 1, "200": 1}, 1)
    finally:
        process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
    assert process.returncode == 0


def test_cli_listens_on_8765_by_default_clear_of_airflows_8080():
    result = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "plivo-sandbox"), "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert "default 8765" in " ".join(result.stdout.split())


def test_cli_refuses_a_malformed_fault():
    result = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "plivo-sandbox"), "--fault", "two:503"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "expected N:KIND" in result.stderr


def connection(conn_id: str) -> dict:
    return json.loads(os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"])


def test_factory_points_each_connection_at_its_own_sandbox(plivo_sandbox_factory):
    slow = plivo_sandbox_factory(latency_ms=300, timeout=2)
    wrong = plivo_sandbox_factory(conn_id="plivo_wrong", password="not-the-token")

    default, other = connection("plivo_default"), connection("plivo_wrong")
    assert (default["host"], default["extra"]) == (slow.url, {"timeout": 2})
    assert (other["host"], other["login"], other["password"]) == (wrong.url, wrong.auth_id, "not-the-token")
    started = time.monotonic()
    answer = requests.get(media_url(slow), auth=(default["login"], default["password"]), timeout=5)
    assert (answer.status_code, time.monotonic() - started >= 0.3) == (200, True)
    refused = requests.get(media_url(wrong), auth=(other["login"], other["password"]), timeout=5)
    assert refused.status_code == 401


def test_plivo_sandbox_is_the_factory_with_no_arguments(plivo_sandbox, plivo_sandbox_factory):
    assert plivo_sandbox_factory.started == [plivo_sandbox]
    assert connection("plivo_default") == json.loads(plivo_sandbox.connection_json())
    assert "extra" not in connection("plivo_default")


def test_factory_stops_every_sandbox_it_started(monkeypatch):
    factory = SandboxFactory(monkeypatch)
    urls = [media_url(factory()), media_url(factory(conn_id="plivo_two"))]
    assert [requests.get(url, timeout=5).status_code for url in urls] == [401, 401]

    factory.close()

    for url in urls:
        with pytest.raises(requests.ConnectionError):
            requests.get(url, timeout=5)


def test_the_sandbox_imports_nothing_from_the_client_side():
    code = (
        "import sys, airflow_provider_plivo.sandbox.cli, airflow_provider_plivo.sandbox.pytest_plugin;"
        "print(sorted(m for m in sys.modules if m.startswith('airflow_provider_plivo.') and"
        " not m.startswith(('airflow_provider_plivo.sandbox', 'airflow_provider_plivo.limits'))))"
    )
    command = [sys.executable, "-c", code]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)

    assert result.stdout.strip() == "[]"
