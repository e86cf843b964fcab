"""The sandbox is as unkind as production Plivo by default, over real HTTP; ``kinder`` and each
option bring the old behaviour back. Times move with ``advance_clock``, never with sleeps."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import pytest
import requests

from airflow_provider_plivo.messages.rules import message_time
from airflow_provider_plivo.sandbox import PlivoSandbox
from airflow_provider_plivo.sandbox.wire_records import plivo_time

if TYPE_CHECKING:
    from collections.abc import Iterator

SRC = "+14155550100"
US = [f"+1415555{1000 + i:04d}" for i in range(1000)]


@pytest.fixture
def plivo_sandbox_options() -> dict[str, Any]:
    """This module is about Plivo's habits: its sandboxes keep every one (the suite's opt out)."""
    return {}


@pytest.fixture
def sandbox() -> Iterator[PlivoSandbox]:
    with PlivoSandbox() as running:
        yield running


def start(**options: Any) -> PlivoSandbox:
    return PlivoSandbox(**options).start()


def api(sandbox: PlivoSandbox, path: str) -> str:
    return f"{sandbox.url}/v1/Account/{sandbox.auth_id}/{path}"


def get(sandbox: PlivoSandbox, path: str, **params: Any) -> requests.Response:
    return requests.get(
        api(sandbox, path), params=params, auth=(sandbox.auth_id, sandbox.auth_token), timeout=5
    )


def send(sandbox: PlivoSandbox, numbers: list[str], **fields: Any) -> list[str]:
    body = {"src": SRC, "text": "hi", "dst": "<".join(numbers), **fields}
    answer = requests.post(
        api(sandbox, "Message/"), json=body, auth=(sandbox.auth_id, sandbox.auth_token), timeout=5
    )
    assert answer.status_code == 202, answer.text
    return list(answer.json()["message_uuid"])


def upload(sandbox: PlivoSandbox, files: list[tuple[str, bytes, str]]) -> requests.Response:
    parts = [("file", file) for file in files]
    return requests.post(
        api(sandbox, "Media/"), files=parts, auth=(sandbox.auth_id, sandbox.auth_token), timeout=10
    )


def record(sandbox: PlivoSandbox, message_uuid: str) -> dict[str, Any]:
    answer = get(sandbox, f"Message/{message_uuid}/")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def states(sandbox: PlivoSandbox, uuids: list[str]) -> list[str]:
    """Each message's state, read one ``GET Message/{uuid}/`` at a time (not the limited list)."""
    with requests.Session() as session:
        session.auth = (sandbox.auth_id, sandbox.auth_token)
        return [session.get(api(sandbox, f"Message/{u}/"), timeout=5).json()["message_state"] for u in uuids]


# -- (1) the message list's own limit ---------------------------------------------------------


def test_the_message_list_answers_429_beyond_20_a_minute_while_single_reads_still_answer(sandbox):
    (message_uuid,) = send(sandbox, ["+14155550101"])

    lists = [get(sandbox, "Message/").status_code for _ in range(21)]
    refused = get(sandbox, "Message/")

    assert lists == [200] * 20 + [429]
    assert set(refused.json()) == {"api_id", "error"}
    assert refused.json()["error"] == "too many requests"
    assert get(sandbox, f"Message/{message_uuid}/").status_code == 200  # not the list
    assert get(sandbox, "Media/").status_code == 200


def test_the_list_counts_against_the_account_limit_and_a_refused_list_against_neither():
    with PlivoSandbox(rate_limit=(3, 60), message_list_rate_limit=(2, 60)) as sandbox:
        answers = [
            get(sandbox, path).status_code
            for path in ("Message/", "Message/", "Message/", "Media/", "Media/")
        ]

    # The third list is refused by the list's window and not counted by the account's: the first
    # media read is the account's third request, the second is over it.
    assert answers == [200, 200, 429, 200, 429]


def test_kinder_or_none_lists_freely():
    for options in ({"kinder": True}, {"message_list_rate_limit": None}):
        with PlivoSandbox(**options) as sandbox:
            assert {get(sandbox, "Message/").status_code for _ in range(25)} == {200}


# -- (2) sending speed, queue expiry, time scale ----------------------------------------------


def test_messages_leave_the_queue_in_order_at_the_accounts_mps_per_type(sandbox):
    mms = send(sandbox, US[:3], type="mms")  # 0.25 a second: leave at 0.5 s, 4.5 s, 8.5 s
    sms = send(sandbox, US[3:6])  # 5 a second, its own queue

    sandbox.advance_clock(timedelta(seconds=1.2))
    assert states(sandbox, mms) == ["sent", "queued", "queued"]
    assert states(sandbox, sms) == ["sent"] * 3
    sandbox.advance_clock(timedelta(seconds=4))
    assert states(sandbox, mms) == ["sent", "sent", "queued"]
    sandbox.advance_clock(timedelta(seconds=4))
    assert states(sandbox, mms) == ["sent"] * 3
    assert record(sandbox, mms[2])["message_sent_time"] > record(sandbox, mms[1])["message_sent_time"]


def test_a_message_still_queued_at_its_expiry_fails_with_420_uncharged_and_takes_no_place(sandbox):
    short = send(sandbox, US[:3], type="mms", message_expiry=5)  # the third would leave at 8.5 s
    after = send(sandbox, US[3:4], type="mms")  # takes the expired one's place: 8.5 s, not 12.5 s

    sandbox.advance_clock(timedelta(seconds=9.2))
    expired = record(sandbox, short[2])

    assert states(sandbox, short) == ["sent", "sent", "failed"]
    assert (expired["error_code"], expired["total_amount"]) == ("420", "0.00000")
    assert expired["message_sent_time"] is None
    assert states(sandbox, after) == ["sent"]


@pytest.mark.parametrize("expiry", [4, 10_801, "soon", True])
def test_a_message_expiry_outside_5_to_10800_seconds_is_refused(sandbox, expiry):
    body = {"src": SRC, "dst": "+14155550101", "text": "hi", "message_expiry": expiry}
    answer = requests.post(
        api(sandbox, "Message/"), json=body, auth=(sandbox.auth_id, sandbox.auth_token), timeout=5
    )

    assert answer.status_code == 400
    assert "message_expiry" in answer.json()["error"]


def test_time_scale_runs_a_3_hour_campaign_in_seconds_and_its_expiry_with_it():
    with PlivoSandbox(time_scale=1000) as sandbox:
        campaign = send(sandbox, US, type="mms")  # 1,000 MMS at 0.25 a second: 4,000 s, 4 s scaled
        sandbox.advance_clock(timedelta(seconds=4.1))
        all_sent = states(sandbox, campaign)
        hurried = send(sandbox, US[:10], type="mms", message_expiry=5)  # 5 ms scaled
        sandbox.advance_clock(timedelta(seconds=1))
        hurried_states = states(sandbox, hurried)

    assert set(all_sent) == {"sent"}
    assert hurried_states == ["sent", "sent"] + ["failed"] * 8  # leave at 0.5, 4.5 ms; 8.5 ms > 5


def test_without_mps_every_message_leaves_at_once():
    for options in ({"kinder": True}, {"mps": None}):
        with PlivoSandbox(**options) as sandbox:
            uuids = send(sandbox, US[:5], type="mms")
            sandbox.advance_clock(timedelta(seconds=0.6))
            assert states(sandbox, uuids) == ["sent"] * 5


def test_the_connection_names_the_sandboxs_speed_for_the_hook():
    with PlivoSandbox(time_scale=1000, mps={"mms": 1}) as fast, PlivoSandbox(kinder=True) as kind:
        fast_extra = json.loads(fast.connection_json(timeout=2))["extra"]
        kind_conn = json.loads(kind.connection_json())
        overridden = json.loads(fast.connection_json(mps=9))["extra"]

    assert fast_extra == {"mps": {"sms": 5.0, "mms": 1.0}, "time_scale": 1000, "timeout": 2}
    assert "extra" not in kind_conn
    assert overridden["mps"] == 9


# -- (3) masked numbers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("log", "masked"),
    [(False, True), ("false", True), ("content_only", True), ("number_only", False), (True, False)],
)
def test_log_false_stores_the_number_masked_in_every_record(sandbox, log, masked):
    (message_uuid,) = send(sandbox, ["+14155551528"], log=log)
    expected = "141XXXXX528" if masked else "14155551528"

    assert record(sandbox, message_uuid)["to_number"] == expected
    assert [r["to_number"] for r in get(sandbox, "Message/").json()["objects"]] == [expected]
    assert sandbox.messages[message_uuid].to_number == "+" + expected


def test_log_false_keeps_no_text_and_a_bad_log_is_refused(sandbox):
    (redacted,) = send(sandbox, ["+14155551528"], log="false", text="secret")
    bad = requests.post(
        api(sandbox, "Message/"),
        json={"src": SRC, "dst": "+14155551528", "text": "hi", "log": "sometimes"},
        auth=(sandbox.auth_id, sandbox.auth_token),
        timeout=5,
    )

    assert sandbox.messages[redacted].text == "***Text Content Redacted***"
    assert bad.status_code == 400
    assert "log must be one of" in bad.json()["error"]


def test_honour_log_off_ignores_log():
    with PlivoSandbox(honour_log=False) as sandbox:
        (message_uuid,) = send(sandbox, ["+14155551528"], log=False)
        assert record(sandbox, message_uuid)["to_number"] == "14155551528"


# -- (4) times in the account's offset --------------------------------------------------------


def test_message_times_are_written_in_the_accounts_offset_with_trailing_zeros_dropped(sandbox):
    (message_uuid,) = send(sandbox, ["+61491570006"])
    written = record(sandbox, message_uuid)["message_time"]

    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{0,5}[1-9])?\+05:30", written)
    assert message_time(written) == sandbox.messages[message_uuid].queued_at
    moment = datetime(2021, 7, 13, 12, 58, 51, 947720, tzinfo=timezone.utc)
    assert plivo_time(moment, timedelta(hours=5, minutes=30)) == "2021-07-13 18:28:51.94772+05:30"
    assert (
        plivo_time(moment.replace(microsecond=0), timedelta(hours=5, minutes=30))
        == "2021-07-13 18:28:51+05:30"
    )


def test_another_offset_or_none():
    with PlivoSandbox(utc_offset=timedelta(hours=-3)) as west, PlivoSandbox(utc_offset=None) as utc:
        west_time = record(west, send(west, ["+61491570006"])[0])["message_time"]
        utc_time = record(utc, send(utc, ["+61491570006"])[0])["message_time"]

    assert west_time.endswith("-03:00")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00:00", utc_time)


# -- (5) recorded shapes, error 120, upload types ---------------------------------------------


def test_answers_have_the_shapes_recorded_from_plivo(sandbox):
    (queued,) = send(sandbox, ["+61491570006"])
    listed = get(sandbox, "Message/").json()
    (media,) = upload(sandbox, [("a.png", b"png", "image/png")]).json()["objects"]
    reads = [get(sandbox, f"Media/{media['media_id']}/").json() for _ in range(3)]
    sandbox.advance_clock(timedelta(seconds=2))

    assert "total_count" not in listed["meta"]
    assert record(sandbox, queued)["error_message"] == ""  # delivered, 000: still ""
    assert ["media_url" in r for r in reads] == [True, False, True]
    assert reads[1]["url"] == media["media_url"]
    assert "total_count" in get(sandbox, "Media/").json()["meta"]  # the media list keeps it


def test_recorded_shapes_off_answers_as_before():
    with PlivoSandbox(recorded_shapes=False) as sandbox:
        (queued,) = send(sandbox, ["+61491570006"])
        (media,) = upload(sandbox, [("a.png", b"png", "image/png")]).json()["objects"]
        reads = [get(sandbox, f"Media/{media['media_id']}/").json() for _ in range(2)]
        assert get(sandbox, "Message/").json()["meta"]["total_count"] == 1
        assert record(sandbox, queued)["error_message"] is None
        assert all("media_url" in r for r in reads)


def test_a_message_over_5_mb_fails_with_error_120_counting_media_ids_and_own_media_urls(sandbox):
    big = [(f"{i}.jpg", bytes(1_900_000), "image/jpeg") for i in range(3)]
    objects = upload(sandbox, big).json()["objects"]
    ids, urls = [o["media_id"] for o in objects], [o["media_url"] for o in objects]

    by_ids = send(sandbox, ["+14155550101"], type="mms", media_ids=ids)
    by_urls = send(sandbox, ["+14155550101"], type="mms", media_ids=ids[:2], media_urls=urls[2:])
    under = send(
        sandbox, ["+14155550101"], type="mms", media_ids=ids[:2], media_urls=["https://elsewhere.test/x.jpg"]
    )
    sandbox.advance_clock(timedelta(seconds=10))
    too_large = record(sandbox, by_ids[0])

    assert (too_large["message_state"], too_large["error_code"], too_large["total_amount"]) == (
        "failed",
        "120",
        "0.00000",
    )
    assert states(sandbox, by_urls) == ["failed"]
    assert states(sandbox, under) == ["sent"]


def test_no_size_check_without_max_message_size():
    with PlivoSandbox(max_message_size=None, mps=None) as sandbox:
        objects = upload(sandbox, [(f"{i}.jpg", bytes(1_900_000), "image/jpeg") for i in range(3)]).json()[
            "objects"
        ]
        uuids = send(sandbox, ["+14155550101"], type="mms", media_ids=[o["media_id"] for o in objects])
        sandbox.advance_clock(timedelta(seconds=2))
        assert states(sandbox, uuids) == ["sent"]


def test_one_upload_type_plivo_refuses_refuses_the_whole_request(sandbox):
    refused = upload(sandbox, [("a.png", b"png", "image/png"), ("b.wav", b"RIFF", "audio/wav")])
    accepted = upload(
        sandbox,
        [
            ("a.jpg", b"j", "image/jpeg"),
            ("b.png", b"p", "image/png"),
            ("c.gif", b"g", "image/gif"),
            ("d.mp4", b"m", "video/mp4"),
            ("e.pdf", b"d", "application/pdf"),
            ("f.txt", b"t", "text/plain"),
        ],
    )

    assert refused.status_code == 400
    assert refused.json()["error"].startswith(
        "File format of the file to be uploaded should be one of JPG, JPEG, PNG or PDF"
    )
    assert "b.wav (audio/wav)" in refused.json()["error"]
    assert accepted.status_code == 200
    assert len(sandbox.media) == 6  # none of the refused request's


def test_any_upload_type_without_the_check():
    for options in ({"kinder": True}, {"upload_types": None}):
        with PlivoSandbox(**options) as sandbox:
            assert upload(sandbox, [("b.wav", b"RIFF", "audio/wav")]).status_code == 200


# -- (6) read and deleted ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "final"), [("+15005550006", ("read", "000")), ("+15005550007", ("deleted", None))]
)
def test_test_numbers_end_read_and_deleted(sandbox, number, final):
    (message_uuid,) = send(sandbox, [number])
    sandbox.advance_clock(timedelta(seconds=0.6))
    halfway = record(sandbox, message_uuid)["message_state"]
    sandbox.advance_clock(timedelta(seconds=1))
    done = record(sandbox, message_uuid)

    assert halfway == "sent"
    assert (done["message_state"], done["error_code"]) == final


# -- (7) the sandbox's own clock --------------------------------------------------------------


def test_answers_carry_a_date_from_the_sandbox_clock_which_can_run_behind():
    with PlivoSandbox(clock_offset=-timedelta(minutes=3)) as sandbox:
        behind = parsedate_to_datetime(get(sandbox, "Media/").headers["Date"])
        host = datetime.now(timezone.utc)
        sandbox.advance_clock(timedelta(hours=2))
        ahead = parsedate_to_datetime(get(sandbox, "Media/").headers["Date"])
        (message_uuid,) = send(sandbox, ["+61491570006"])
        written = message_time(record(sandbox, message_uuid)["message_time"])
        assert written is not None

    assert timedelta(minutes=2) < host - behind < timedelta(minutes=4)
    assert timedelta(minutes=116) < ahead - host < timedelta(minutes=118)
    assert abs(written - ahead) < timedelta(minutes=1)


# -- the factory, the CLI ---------------------------------------------------------------------


def test_the_factory_takes_the_options_fixture_under_its_own_arguments(plivo_sandbox_factory, monkeypatch):
    from airflow_provider_plivo.sandbox.pytest_plugin import SandboxFactory

    factory = SandboxFactory(monkeypatch, {"kinder": True, "timeout": 3})
    try:
        kind = factory()
        strict = factory(conn_id="plivo_strict", mps={"mms": 1})
    finally:
        factory.close()

    assert kind.realism.mps is None
    assert strict.realism.mps == {"sms": 5.0, "mms": 1.0}
    assert json.loads(os.environ["AIRFLOW_CONN_PLIVO_STRICT"])["extra"]["timeout"] == 3
    assert plivo_sandbox_factory().realism.mps == {"sms": 5.0, "mms": 0.25}  # this module: Plivo's


def test_cli_takes_the_new_options(sandbox_cli):
    process = sandbox_cli(
        "--port",
        "0",
        "--kinder",
        "--mps",
        "sms=1",
        "--time-scale",
        "10",
        "--message-list-rate-limit",
        "1/60",
        "--utc-offset=-03:00",  # with '=': argparse takes a bare "-03:00" for an option
        "--clock-offset=-180",
    )
    assert process.stdout is not None
    url = process.stdout.readline().split()[-1]
    conn = json.loads(process.stdout.readline().partition("=")[2].strip().strip("'"))
    auth = (conn["login"], conn["password"])
    lists = [
        requests.get(f"{url}/v1/Account/{conn['login']}/Message/", auth=auth, timeout=5) for _ in range(2)
    ]
    date = parsedate_to_datetime(lists[0].headers["Date"])

    assert conn["extra"] == {"mps": {"sms": 1.0, "mms": 0.25}, "time_scale": 10.0}
    assert [answer.status_code for answer in lists] == [200, 429]
    assert timedelta(minutes=2) < datetime.now(timezone.utc) - date < timedelta(minutes=4)
