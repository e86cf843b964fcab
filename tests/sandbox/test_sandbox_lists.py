"""The sandbox's list pages come from an index: the same pages, filters and order as when every
record was tested, without reading every message (only those whose state may still move)."""

from __future__ import annotations

import base64
import json
import random
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from urllib3 import encode_multipart_formdata

from airflow_provider_plivo.sandbox.account_limits import AccountLimits
from airflow_provider_plivo.sandbox.api import SandboxAPI
from airflow_provider_plivo.sandbox.credentials import SANDBOX_AUTH_ID, SANDBOX_AUTH_TOKEN
from airflow_provider_plivo.sandbox.delivery import progress
from airflow_provider_plivo.sandbox.faults import MESSAGE_FAULT_KINDS, STATUS_FAULT_KINDS, FaultPlan
from airflow_provider_plivo.sandbox.realism import KINDER, Realism
from airflow_provider_plivo.sandbox.store import SandboxStore

SRC = "+14155550100"
AUTHORIZATION = "Basic " + base64.b64encode(f"{SANDBOX_AUTH_ID}:{SANDBOX_AUTH_TOKEN}".encode()).decode()
PATH = f"/v1/Account/{SANDBOX_AUTH_ID}"


class FrozenStore(SandboxStore):
    """A store whose clock moves only when told: a page and the records it is checked against
    are read at one moment."""

    def __init__(self) -> None:
        super().__init__()
        self._frozen = datetime.now(timezone.utc)

    def _now(self) -> datetime:
        return self._frozen + self._clock_offset


def make_api(realism: Realism) -> SandboxAPI:
    return SandboxAPI(
        FrozenStore(),
        auth_id=SANDBOX_AUTH_ID,
        auth_token=SANDBOX_AUTH_TOKEN,
        base_url=lambda: "http://sandbox.test",
        fault_plans={
            "media": FaultPlan(None),
            "message": FaultPlan(None, kinds=MESSAGE_FAULT_KINDS),
            "status": FaultPlan(None, kinds=STATUS_FAULT_KINDS, random_kinds=()),
        },
        limits=AccountLimits(None, None),
        max_file_size=2_000_000,
        delivery_seconds=2.0,
        realism=realism,
    )


def call(
    api: SandboxAPI, method: str, path: str, *, body: bytes = b"", query: dict[str, str] | None = None
) -> Any:
    headers = {"Authorization": AUTHORIZATION, "Content-Type": "application/json"}
    answer = api.handle(method, PATH + path, {k: [v] for k, v in (query or {}).items()}, headers, body)
    assert answer.status in (200, 202), answer.body
    return json.loads(answer.body)


NUMBERS = ["+14155550101", "+447700900123", "+15005550001", "+15005550002", "+15005550005", "+15005550006"]


def busy_account(api: SandboxAPI) -> None:
    """Sends of both types to numbers of every fate, spread over time; some still queued."""
    rng = random.Random(7)
    for send in range(30):
        message_type = rng.choice(["sms", "mms"])
        numbers = [n for n in NUMBERS if message_type == "sms" or n.startswith("+1")]
        dst = "<".join([*rng.sample(numbers, rng.randint(1, len(numbers))), f"+1415555{send:04d}"])
        call(
            api,
            "POST",
            "/Message/",
            body=json.dumps({"src": SRC, "dst": dst, "text": "hi", "type": message_type}).encode(),
        )
        api.store.advance_clock(timedelta(seconds=rng.choice([0, 0.3, 1, 2])))


def every_page(api: SandboxAPI, **query: str) -> list[Any]:
    pages, offset = [], 0
    while True:
        page = call(api, "GET", "/Message/", query={"limit": "7", "offset": str(offset), **query})
        pages.append(page)
        if page["meta"]["next"] is None:
            return pages
        offset += 7


def expected_pages(api: SandboxAPI, **query: str) -> list[list[str]]:
    """The pages as the sandbox gave them before its index: every record tested, newest first."""
    newest_first = list(api.store.all_messages().values())[::-1]
    newest_first.sort(key=lambda m: m.queued_at, reverse=True)
    records = [api._message_record(m) for m in newest_first]
    kept = [
        r["message_uuid"]
        for r in records
        if all(
            str(r[name]) == value for name, value in query.items() if name in ("message_state", "error_code")
        )
        and query.get("message_type", r["message_type"]) == r["message_type"]
    ]
    return [kept[at : at + 7] for at in range(0, max(len(kept), 1), 7)]


FILTERS = [
    {},
    {"message_type": "mms"},
    {"message_state": "queued"},
    {"message_state": "sent"},
    {"message_state": "sent", "message_type": "sms"},
    {"message_state": "delivered"},
    {"message_state": "undelivered", "error_code": "80"},
    {"message_state": "failed"},
    {"error_code": "000"},
    {"error_code": "None"},
    {"message_state": "read", "message_type": "mms"},
]


@pytest.mark.parametrize(
    "realism", [KINDER, Realism(mps={"sms": 5, "mms": 0.5}, recorded_shapes=True)], ids=["kinder", "plivo"]
)
def test_list_pages_filters_and_order_are_as_every_record_tested_says(realism):
    api = make_api(realism)
    busy_account(api)

    for moment in range(4):  # the states move on: queued, sent, final
        for query in FILTERS:
            pages = every_page(api, **query)
            assert [[m["message_uuid"] for m in page["objects"]] for page in pages] == expected_pages(
                api, **query
            ), (moment, query)
            if realism.recorded_shapes:
                assert all("total_count" not in page["meta"] for page in pages)
            else:
                assert {page["meta"]["total_count"] for page in pages} == {
                    sum(len(p["objects"]) for p in pages)
                }
        api.store.advance_clock(timedelta(seconds=3))


def test_a_state_filter_reads_only_the_messages_still_on_their_way(monkeypatch):
    api = make_api(KINDER)
    for batch in range(20):
        dst = "<".join(f"+4420{batch:02d}{n:06d}" for n in range(100))
        call(api, "POST", "/Message/", body=json.dumps({"src": SRC, "dst": dst, "text": "hi"}).encode())
    api.store.advance_clock(timedelta(seconds=10))  # every message delivered
    (sent,) = call(
        api, "POST", "/Message/", body=json.dumps({"src": SRC, "dst": "+14155550101", "text": "hi"}).encode()
    )["message_uuid"]
    api.store.advance_clock(timedelta(seconds=1.5))
    read = []

    def counted(*args: Any) -> Any:
        read.append(args)
        return progress(*args)

    monkeypatch.setattr("airflow_provider_plivo.sandbox.api.progress", counted)

    answer = call(api, "GET", "/Message/", query={"message_state": "sent", "limit": "1"})
    delivered = call(
        api, "GET", "/Message/", query={"message_state": "delivered", "offset": "1500", "limit": "20"}
    )

    assert [m["message_uuid"] for m in answer["objects"]] == [sent]
    assert answer["meta"]["total_count"] == 1
    assert (len(delivered["objects"]), delivered["meta"]["total_count"]) == (20, 2000)
    assert len(read) <= 2 * 2 + 1 + 20  # the one still moving (per list), and the records shown


def test_the_media_list_pages_live_media_newest_first_as_before():
    api = make_api(KINDER)
    uploaded = []
    for batch in range(12):
        form, content_type = encode_multipart_formdata(
            [("file", (f"{batch}-{n}.png", b"png", "image/png")) for n in range(3)]
        )
        headers = {"Authorization": AUTHORIZATION, "Content-Type": content_type}
        answer = api.handle("POST", PATH + "/Media/", {}, headers, form)
        uploaded.append([o["media_id"] for o in json.loads(answer.body)["objects"]])
        if batch in (2, 9):  # used in a message while live: kept past the 6 hours
            media_ids = [uploaded[0][1], uploaded[2][0], uploaded[2][2]] if batch == 2 else [uploaded[9][0]]
            body = {"src": SRC, "dst": "+14155550101", "type": "mms", "media_ids": media_ids}
            call(api, "POST", "/Message/", body=json.dumps(body).encode())
        api.store.advance_clock(timedelta(hours=1))
    used = [uploaded[0][1], uploaded[2][0], uploaded[2][2], uploaded[9][0]]
    all_media = api.store.all_media().values()
    cutoff = api.store.now() - timedelta(hours=6)
    live = [m for m in all_media if m.media_id in used or m.upload_time >= cutoff]
    expected = [m.media_id for m in sorted(live, key=lambda m: m.upload_time, reverse=True)]

    pages = [call(api, "GET", "/Media/", query={"limit": "4", "offset": str(at)}) for at in range(0, 24, 4)]

    assert [o["media_id"] for page in pages for o in page["objects"]] == expected
    assert {page["meta"]["total_count"] for page in pages} == {len(expected)} == {6 * 3 + 3}
    assert [page["meta"]["next"] is None for page in pages] == [False] * 5 + [True]
