"""The sandbox speaks Plivo's wire format: auth, limits, pagination, errors, faults, CLI."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
import requests

from airflow_provider_plivo.sandbox import PlivoSandbox
from airflow_provider_plivo.sandbox.faults import FaultPlan
from airflow_provider_plivo.sandbox.pytest_plugin import SandboxFactory
from airflow_provider_plivo.sandbox.wire_records import message_units

if TYPE_CHECKING:
    from collections.abc import Iterator

SRC = "+14155550100"
PLIVO_TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{0,5}[1-9])?\+05:30"
"""As Plivo's recorded times: the account's offset, trailing zeros of the fraction dropped."""


def media_url(sandbox: PlivoSandbox, suffix: str = "") -> str:
    return api(sandbox, f"Media/{suffix}")


def api(sandbox: PlivoSandbox, path: str) -> str:
    return f"{sandbox.url}/v1/Account/{sandbox.auth_id}/{path}"


def credentials(sandbox: PlivoSandbox) -> tuple[str, str]:
    return sandbox.auth_id, sandbox.auth_token


def get(sandbox: PlivoSandbox, path: str, **params: Any) -> requests.Response:
    return requests.get(api(sandbox, path), params=params, auth=credentials(sandbox), timeout=5)


def send(sandbox: PlivoSandbox, **fields: Any) -> requests.Response:
    body = {"src": SRC, "text": "hi", **fields}
    return requests.post(api(sandbox, "Message/"), json=body, auth=credentials(sandbox), timeout=5)


def post_raw(sandbox: PlivoSandbox, headers: str, body: bytes = b"") -> tuple[int, dict[str, Any]]:
    """POST to Message/ with ``headers`` exactly as given, then ``body``."""
    head = f"POST /v1/Account/{sandbox.auth_id}/Message/ HTTP/1.1\r\nHost: sandbox\r\n{headers}\r\n\r\n"
    return raw_exchange(sandbox, head.encode() + body)


def raw_exchange(sandbox: PlivoSandbox, request: bytes) -> tuple[int, dict[str, Any]]:
    """Send ``request`` as is; read until the sandbox closes the connection; (status, JSON body)."""
    address = urlsplit(sandbox.url)
    assert address.port is not None
    with socket.create_connection((address.hostname, address.port), timeout=10) as conn:
        conn.sendall(request)
        answer = b"".join(iter(lambda: conn.recv(65536), b""))
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def upload(
    sandbox: PlivoSandbox, files: list[tuple[str, bytes]], auth: tuple[str, str] | None = None
) -> requests.Response:
    parts = [("file", (name, data, "image/png")) for name, data in files]
    return requests.post(
        media_url(sandbox), files=parts, auth=auth or (sandbox.auth_id, sandbox.auth_token), timeout=5
    )


@pytest.fixture
def sandbox() -> Iterator[PlivoSandbox]:
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
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", first["upload_time"])
    assert str(uuid.UUID(first["media_id"])) == first["media_id"]  # a dashed UUID, as Plivo's are
    assert requests.get(first["media_url"], timeout=5).content == data


@pytest.mark.parametrize(
    "auth", [("MASANDBOX00000000000", "wrong"), ("MAOTHER0000000000000", "sandbox-auth-token"), None]
)
def test_bad_credentials_get_401_with_plivos_error_body(sandbox, auth):
    response = requests.get(media_url(sandbox), auth=auth, timeout=5)

    assert response.status_code == 401
    assert set(response.json()) == {"error"}  # Plivo's recorded 401 carries no api_id


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
    assert first["meta"]["next"] == f"/v1/Account/{sandbox.auth_id}/Media?offset=2&limit=2"
    assert first["meta"]["previous"] is None
    assert last["meta"]["next"] is None
    assert last["meta"]["previous"] == f"/v1/Account/{sandbox.auth_id}/Media?offset=0&limit=2"
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


def test_cli_serves_until_terminated(sandbox_cli):
    process = sandbox_cli(
        "--port", "0", "--auth-id", "MACLI000000000000000", "--auth-token", "cli-token", "--fault", "1:503"
    )
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


def test_cli_cuts_off_a_trickling_request_at_its_request_deadline(sandbox_cli):
    process = sandbox_cli("--port", "0", "--request-deadline", "1.5")
    assert process.stdout is not None
    url = urlsplit(process.stdout.readline().split()[-1])
    process.stdout.readline()
    started = time.monotonic()
    with socket.create_connection((url.hostname, url.port)) as conn:
        conn.settimeout(10)
        for byte in b"GET /_sandbox/stats HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"p" * 40:
            try:
                conn.sendall(bytes([byte]))
            except OSError:
                break
            time.sleep(0.5)
            if time.monotonic() - started > 8:
                break
        closed = conn.recv(1) == b""

    assert closed
    assert time.monotonic() - started < 8  # cut off, not left to trickle on


def test_the_control_paths_answer_without_the_apis_latency():
    with PlivoSandbox(latency_ms=30_000) as sandbox:
        stats = requests.get(f"{sandbox.url}/_sandbox/stats", timeout=5)
        reset = requests.post(f"{sandbox.url}/_sandbox/stats/reset", timeout=5)

    assert (stats.status_code, reset.status_code) == (200, 200)


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


def connection(conn_id: str) -> dict[str, Any]:
    conn: dict[str, Any] = json.loads(os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"])
    return conn


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


# -- never kinder than Plivo -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "states", "error_code"),
    [
        ("+14155550101", ["queued", "sent", "sent", "sent"], None),  # +1: no delivery reports
        ("+16135550123", ["queued", "sent", "sent", "sent"], None),  # Canada likewise
        ("+61491570006", ["queued", "sent", "delivered", "delivered"], "000"),
        ("+15005550005", ["queued", "sent", "delivered", "delivered"], "000"),
        ("+61491570159", ["queued", "sent", "sent", "sent"], None),
        # Failing test numbers fail instead of reaching sent, so a sensor done at sent sees it.
        ("+15005550001", ["queued", "undelivered", "undelivered", "undelivered"], "80"),
        ("+15005550002", ["queued", "failed", "failed", "failed"], "50"),
        ("+15005550003", ["queued", "rejected", "rejected", "rejected"], "100"),
    ],
)
def test_delivery_reports_follow_the_destination(sandbox, number, states, error_code):
    (message_uuid,) = send(sandbox, dst=number).json()["message_uuid"]
    seen = []
    for step in (0, 0.6, 0.6, 3600):
        sandbox.advance_clock(timedelta(seconds=step))
        record = get(sandbox, f"Message/{message_uuid}/").json()
        seen.append(record["message_state"])

    assert (seen, record["error_code"]) == (states, error_code)


def test_duplicate_destinations_get_one_message_each_in_dst_order(sandbox):
    answer = send(sandbox, dst="+14155550102<14155550101<+14155550102< +14155550101 ")

    assert answer.status_code == 202
    assert set(answer.json()) == {"api_id", "message", "message_uuid"}
    assert answer.json()["message"] == "message(s) queued"
    assert [sandbox.messages[u].to_number for u in answer.json()["message_uuid"]] == [
        "+14155550102",
        "+14155550101",
    ]


def test_malformed_numbers_come_back_in_invalid_number_and_the_rest_are_sent(sandbox):
    answer = send(sandbox, dst="+14155550101<jsgf3dsjh28372<+10155550101<+14151550101<+1415<+14155550102")

    body = answer.json()
    assert answer.status_code == 202
    # NANP: an area code or exchange starting with 0 or 1 is no number; +1415 is too short.
    assert body["invalid_number"] == ["jsgf3dsjh28372", "+10155550101", "+14151550101", "+1415"]
    assert [sandbox.messages[u].to_number for u in body["message_uuid"]] == ["+14155550101", "+14155550102"]


@pytest.mark.parametrize(
    ("dst", "error"),
    [
        ("+10155550101", "+10155550101 is not a valid phone number"),
        ("12<+14151550101<12", "12, +14151550101 are not valid phone numbers"),
        ("<<", "dst is required"),
    ],
)
def test_no_valid_number_is_refused_in_plivos_words(sandbox, dst, error):
    answer = send(sandbox, dst=dst)

    assert (answer.status_code, answer.json()["error"]) == (400, error)
    assert sandbox.messages == {}


def test_at_most_1000_unique_numbers_per_send(sandbox):
    numbers = [f"+1415200{i:04d}" for i in range(1000)]

    accepted = send(sandbox, dst="<".join([*numbers, numbers[0]]))
    refused = send(sandbox, dst="<".join([*numbers, "+14152001000"]))

    assert (accepted.status_code, len(accepted.json()["message_uuid"])) == (202, 1000)
    assert refused.status_code == 400
    assert "1001 unique; at most 1000" in refused.json()["error"]
    assert len(sandbox.messages) == 1000


def test_a_message_record_has_plivos_shape(sandbox):
    (message_uuid,) = send(sandbox, dst="61491570006").json()["message_uuid"]
    queued = get(sandbox, f"Message/{message_uuid}/").json()
    sandbox.advance_clock(timedelta(seconds=2))
    delivered = get(sandbox, f"Message/{message_uuid}/").json()

    assert set(queued) == {
        "api_id",
        "error_code",
        "error_message",
        "from_number",
        "message_direction",
        "message_sent_time",
        "message_state",
        "message_time",
        "message_type",
        "message_updated_time",
        "message_uuid",
        "resource_uri",
        "to_number",
        "total_amount",
        "total_rate",
        "units",
    }
    assert (queued["to_number"], queued["from_number"]) == ("61491570006", "14155550100")
    assert (queued["error_code"], queued["error_message"], queued["message_sent_time"]) == (None, "", None)
    assert re.fullmatch(PLIVO_TIME, queued["message_time"])
    assert (delivered["message_state"], delivered["error_code"]) == ("delivered", "000")
    assert re.fullmatch(PLIVO_TIME, delivered["message_sent_time"])
    assert delivered["message_updated_time"] > delivered["message_sent_time"] > delivered["message_time"]
    assert delivered["resource_uri"] == f"/v1/Account/{sandbox.auth_id}/Message/{message_uuid}/"
    assert (delivered["message_direction"], delivered["message_type"]) == ("outbound", "sms")
    assert (delivered["units"], delivered["total_rate"], delivered["total_amount"]) == (
        1,
        "0.00500",
        "0.00500",
    )


@pytest.mark.parametrize(
    ("text", "message_type", "units"),
    [
        ("x" * 160, "sms", 1),
        ("x" * 161, "sms", 2),
        ("x" * 306, "sms", 2),
        ("{" * 80, "sms", 1),  # GSM-7's extension characters take two septets each
        ("{" * 81, "sms", 2),
        ("☀" * 70, "sms", 1),  # outside GSM-7 the message goes as UCS-2
        ("☀" * 71, "sms", 2),
        ("x" * 1600, "mms", 1),
    ],
)
def test_units_count_sms_segments(text, message_type, units):
    assert message_units(text, message_type) == units


@pytest.mark.parametrize("path", ["Media", "Media/", "Message", "Message/"])
def test_paths_are_served_with_or_without_their_trailing_slash(sandbox, path):
    assert get(sandbox, path, limit=20).status_code == 200


def test_one_record_is_served_without_its_trailing_slash_too(sandbox):
    auth = (sandbox.auth_id, sandbox.auth_token)
    uploaded = requests.post(
        api(sandbox, "Media"), files=[("file", ("a.png", b"x", "image/png"))], auth=auth, timeout=5
    )
    (media,) = uploaded.json()["objects"]
    (message_uuid,) = send(sandbox, dst="+14155550101").json()["message_uuid"]

    assert get(sandbox, f"Media/{media['media_id']}").json()["file_name"] == "a.png"
    assert get(sandbox, f"Message/{message_uuid}").json()["message_uuid"] == message_uuid


def uuids(answer: requests.Response) -> list[str]:
    return [record["message_uuid"] for record in answer.json()["objects"]]


def test_messages_are_listed_newest_first_in_pages_and_filtered(sandbox):
    earlier = send(sandbox, dst="+14155550101<+14155550102").json()["message_uuid"]
    sandbox.advance_clock(timedelta(seconds=2))
    cutoff = sandbox.now().strftime("%Y-%m-%d %H:%M:%S.%f")
    later = send(sandbox, dst="+61491570006").json()["message_uuid"]

    first_page = get(sandbox, "Message/", limit=2).json()
    assert [r["message_uuid"] for r in first_page["objects"]] == [*later, earlier[1]]
    assert first_page["meta"] == {
        "limit": 2,
        "offset": 0,
        "next": f"/v1/Account/{sandbox.auth_id}/Message?offset=2&limit=2",
        "previous": None,
    }  # no total_count, as many of the message lists recorded from Plivo
    assert uuids(get(sandbox, "Message/", limit=2, offset=2)) == [earlier[0]]
    assert uuids(get(sandbox, "Message/", message_state="sent")) == earlier[::-1]
    assert uuids(get(sandbox, "Message/", message_time__gte=cutoff)) == later
    assert uuids(get(sandbox, "Message/", message_time__lt=cutoff)) == earlier[::-1]
    minute_before, minute_after = (
        (sandbox.now() + timedelta(minutes=m)).strftime("%Y-%m-%d %H:%M") for m in (-1, 1)
    )
    assert len(uuids(get(sandbox, "Message/", message_time__gt=minute_before))) == 3
    assert uuids(get(sandbox, "Message/", message_time__gte=minute_after)) == []
    assert uuids(get(sandbox, "Message/", message_direction="outbound", message_type="mms")) == []
    filtered = get(sandbox, "Message/", message_state="sent", limit=1).json()["meta"]
    assert filtered["next"] == f"/v1/Account/{sandbox.auth_id}/Message?offset=1&limit=1&message_state=sent"
    sandbox.advance_clock(timedelta(seconds=2))
    assert uuids(get(sandbox, "Message/", error_code="000")) == later


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"limit": 21}, "limit must be 1 to 20"),
        ({"limit": 0}, "limit must be 1 to 20"),
        ({"offset": -1}, "offset at least 0"),
        ({"limit": "ten"}, "limit must be a whole number"),
        ({"message_time__gte": "yesterday"}, "message_time__gte must read YYYY-MM-DD HH:MM[:ss[.uuuuuu]]"),
    ],
)
def test_a_bad_list_parameter_gets_400(sandbox, params, error):
    answer = get(sandbox, "Message/", **params)

    assert (answer.status_code, error in answer.json()["error"]) == (400, True)


def test_the_media_a_message_carried_are_listed(sandbox):
    objects = upload(sandbox, [("a.png", b"aa"), ("b.png", b"bbb")]).json()["objects"]
    media_ids = [o["media_id"] for o in objects]
    (message_uuid,) = send(sandbox, dst="+14155550101", type="mms", media_ids=media_ids).json()[
        "message_uuid"
    ]

    listed = get(sandbox, f"Message/{message_uuid}/Media/").json()

    assert [(o["media_id"], o["size"], o["message_uuid"]) for o in listed["objects"]] == [
        (media_ids[0], 2, message_uuid),
        (media_ids[1], 3, message_uuid),
    ]
    assert listed["objects"][0]["media_url"] == objects[0]["media_url"]
    assert listed["meta"]["total_count"] == 2
    assert get(sandbox, f"Message/{uuid.uuid4()}/Media/").status_code == 404


def test_unused_media_vanishes_after_6_hours_and_used_media_stays(sandbox):
    unused, used = (
        o["media_id"] for o in upload(sandbox, [("a.png", b"a"), ("b.png", b"b")]).json()["objects"]
    )
    send(sandbox, dst="+14155550101", type="mms", media_ids=[used])
    sandbox.advance_clock(timedelta(hours=6, seconds=1))

    assert get(sandbox, f"Media/{unused}/").status_code == 404
    assert get(sandbox, f"Media/{used}/").status_code == 200
    assert [o["media_id"] for o in get(sandbox, "Media/").json()["objects"]] == [used]


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("text", 123, "text must be a string, not a number"),
        ("dst", 5, "dst must be a string, not a number"),
        ("media_ids", "x", "media_ids must be a list of strings, not a string"),
        ("media_ids", [1], "media_ids must be a list of strings; it holds a number"),
        ("media_urls", {"a": 1}, "media_urls must be a list of strings, not an object"),
        ("src", ["+14155550100"], "src must be a string, not a list"),
        ("type", True, "type must be a string, not true or false"),
        ("type", "fax", "type must be one of sms, mms, not 'fax'"),
    ],
)
def test_a_wrong_typed_field_gets_400_never_500(sandbox, field, value, error):
    answer = send(sandbox, **{"dst": "+14155550101", field: value})

    assert (answer.status_code, answer.json()["error"]) == (400, error)


@pytest.mark.parametrize(
    ("length", "error"),
    [
        ("abc", "Content-Length 'abc' is not a number of bytes"),
        ("-5", "Content-Length '-5' is not a number of bytes"),
        ("67108865", "Content-Length 67108865 exceeds the 67108864 byte limit"),
        ("10\r\nContent-Length: 20", "conflicting Content-Length headers: 10, 20"),
    ],
)
def test_a_bad_or_huge_content_length_gets_400_without_reading_the_body(sandbox, length, error):
    started = time.monotonic()

    status, body = post_raw(sandbox, f"Content-Length: {length}")  # no body follows: none is waited for

    assert (status, body["error"]) == (400, error)
    assert time.monotonic() - started < 5
    assert [(r.method, r.status) for r in sandbox.requests] == [("POST", 400)]


def test_a_client_that_stops_mid_body_is_cut_off_by_the_read_timeout():
    with PlivoSandbox(read_timeout=0.5) as sandbox:
        started = time.monotonic()

        status, body = post_raw(sandbox, "Content-Length: 100", b'{"src": "+1')
        waited = time.monotonic() - started

    assert (status, body["error"]) == (408, "the request body stopped arriving: read timed out")
    assert 0.4 < waited < 5
    assert [(r.method, r.status) for r in sandbox.requests] == [("POST", 408)]


def test_a_chunked_body_is_read_whole(sandbox):
    body = json.dumps({"src": SRC, "dst": "+14155550101", "text": "sent in chunks"}).encode()
    auth = (sandbox.auth_id, sandbox.auth_token)

    answer = requests.post(api(sandbox, "Message/"), data=iter([body[:7], body[7:]]), auth=auth, timeout=5)

    assert answer.status_code == 202
    (message,) = sandbox.messages.values()
    assert message.text == "sent in chunks"
