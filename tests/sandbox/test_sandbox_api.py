"""The sandbox's API layer without a socket: a request in, a Response out; and its store's lists."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest
from urllib3 import encode_multipart_formdata

from airflow_provider_plivo.sandbox.account_limits import AccountLimits
from airflow_provider_plivo.sandbox.api import SandboxAPI
from airflow_provider_plivo.sandbox.credentials import SANDBOX_AUTH_ID, SANDBOX_AUTH_TOKEN
from airflow_provider_plivo.sandbox.faults import MESSAGE_FAULT_KINDS, STATUS_FAULT_KINDS, FaultPlan
from airflow_provider_plivo.sandbox.responses import Response, SandboxHTTPError
from airflow_provider_plivo.sandbox.store import SandboxStore

BASE = f"/v1/Account/{SANDBOX_AUTH_ID}"
AUTH = {
    "Authorization": "Basic " + base64.b64encode(f"{SANDBOX_AUTH_ID}:{SANDBOX_AUTH_TOKEN}".encode()).decode()
}


def make_api(**options: Any) -> SandboxAPI:
    plans = {
        "media": FaultPlan(options.pop("faults", None)),
        "message": FaultPlan(options.pop("message_faults", None), kinds=MESSAGE_FAULT_KINDS),
        "status": FaultPlan(None, kinds=STATUS_FAULT_KINDS, random_kinds=()),
    }
    return SandboxAPI(
        SandboxStore(),
        auth_id=SANDBOX_AUTH_ID,
        auth_token=SANDBOX_AUTH_TOKEN,
        base_url=lambda: "http://sandbox.test",
        fault_plans=plans,
        limits=AccountLimits(options.pop("rate_limit", None), None),
        max_file_size=options.pop("max_file_size", 2_000_000),
        delivery_seconds=1.0,
        **options,
    )


def body_of(response: Response) -> Any:
    return json.loads(response.body)


def get(api: SandboxAPI, path: str, **query: str) -> Response:
    return api.handle("GET", BASE + path, {k: [v] for k, v in query.items()}, AUTH)


def send(api: SandboxAPI, **fields: Any) -> Response:
    body = json.dumps({"src": "+14155550100", "text": "hi", **fields}).encode()
    return api.handle("POST", BASE + "/Message/", {}, {**AUTH, "Content-Type": "application/json"}, body)


def test_an_upload_is_stored_and_answered_without_a_socket():
    api = make_api()
    form, content_type = encode_multipart_formdata([("file", ("a.png", b"png!", "image/png"))])

    answer = api.handle("POST", BASE + "/Media/", {}, {**AUTH, "content-type": content_type}, form)

    assert answer.status == 200
    (stored,) = body_of(answer)["objects"]
    assert (stored["file_name"], stored["size"], stored["status"]) == ("a.png", 4, "success")
    assert stored["media_url"] == f"http://sandbox.test/Account/{SANDBOX_AUTH_ID}/Media/{stored['media_id']}"
    assert api.store.all_media()[stored["media_id"]].data == b"png!"
    assert [(r.method, r.status, r.file_names) for r in api.requests] == [("POST", 200, ("a.png",))]


def test_header_names_are_read_in_any_case():
    api = make_api()
    lower = {"authorization": AUTH["Authorization"]}

    assert api.handle("GET", BASE + "/Media/", {}, lower).status == 200
    assert api.handle("GET", BASE + "/Media/", {}, {}).status == 401
    assert set(body_of(api.handle("GET", BASE + "/Media/", {}, {}))) == {"error"}


def test_faults_that_need_the_socket_come_back_marked_for_the_transport():
    api = make_api(faults={1: "reset", 2: "hang"}, message_faults={1: "lost"})
    form, content_type = encode_multipart_formdata([("file", ("a.png", b"x", "image/png"))])
    headers = {**AUTH, "Content-Type": content_type}

    reset = api.handle("POST", BASE + "/Media/", {}, headers, form)
    hang = api.handle("POST", BASE + "/Media/", {}, headers, form)
    lost = send(api, dst="+14155550101")

    assert (reset.drop, hang.hang, lost.drop) == (True, True, True)
    assert len(api.store.all_messages()) == 1  # a lost answer: the message was queued all the same
    assert [r.status for r in api.requests] == [0, 0, 0]


def test_the_rate_limit_answers_429_and_stats_count_it():
    api = make_api(rate_limit=(1, 60))

    statuses = [get(api, "/Media/").status for _ in range(2)]

    assert statuses == [200, 429]
    stats = api.stats()
    assert (stats["requests"], stats["statuses"], stats["peak_in_flight"]) == (2, {"200": 1, "429": 1}, 0)


def test_a_refused_body_is_recorded_and_closes_the_connection():
    api = make_api()

    answer = api.refuse("POST", BASE + "/Message/", {}, SandboxHTTPError(408, "read timed out"))

    assert (answer.status, answer.close, body_of(answer)["error"]) == (408, True, "read timed out")
    assert [(r.method, r.status) for r in api.requests] == [("POST", 408)]


def test_latency_waits_before_each_answer():
    waits: list[float] = []
    api = make_api(latency_ms=250, wait=waits.append)

    get(api, "/Media/")

    assert waits == [0.25]


def test_message_lists_page_newest_first_within_their_time_and_type_filters():
    api = make_api()
    first = body_of(send(api, dst="+14155550101<+14155550102"))["message_uuid"]
    api.store.advance_clock(timedelta(minutes=5))
    cutoff = api.store.now().strftime("%Y-%m-%d %H:%M:%S.%f")
    api.store.advance_clock(timedelta(seconds=1))
    later = body_of(send(api, dst="+14155550103"))["message_uuid"]

    def uuids(**query: str) -> list[str]:
        return [m["message_uuid"] for m in body_of(get(api, "/Message/", **query))["objects"]]

    assert uuids() == [*later, *first[::-1]]
    assert uuids(message_time__gt=cutoff) == later
    assert uuids(message_time__lte=cutoff) == first[::-1]
    assert uuids(message_time__lt=cutoff, limit="1", offset="1") == [first[0]]
    assert uuids(message_type="sms", message_time__gte=cutoff) == later
    assert uuids(message_type="mms") == []
    assert uuids(message_direction="inbound") == []
    assert body_of(get(api, "/Message/", message_time__lt=cutoff, limit="1"))["meta"]["total_count"] == 2


def test_state_filters_read_each_message_on_the_clock():
    api = make_api()
    body_of(send(api, dst="+15005550002"))  # fails
    (sent,) = body_of(send(api, dst="+14155550101"))["message_uuid"]
    api.store.advance_clock(timedelta(seconds=2))

    listed = body_of(get(api, "/Message/", message_state="sent"))

    assert [m["message_uuid"] for m in listed["objects"]] == [sent]
    assert listed["meta"]["total_count"] == 1


@pytest.mark.parametrize(("path", "page_size"), [("/Media/", 20), ("/Message/", 20)])
def test_each_list_has_its_own_page_size(path, page_size):
    api = make_api()

    too_big = get(api, path, limit=str(page_size + 1))

    assert (too_big.status, body_of(too_big)["error"]) == (
        400,
        f"limit must be 1 to {page_size} and offset at least 0",
    )
