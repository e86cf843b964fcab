"""One behaviour table, run through both drivers of the core: the blocking PlivoClient (workers)
and the AsyncPlivoClient (the triggerer), against the sandbox over real HTTP. Each plan is
written once; this holds that it behaves the same on either side."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_plivo.exceptions import PlivoInterruptedError, PlivoUnknownMediaError
from airflow_provider_plivo.hooks.plivo import PlivoHook
from airflow_provider_plivo.messages.rules import checked_message
from airflow_provider_plivo.messages.sender import plivo_clock, send_plan
from airflow_provider_plivo.messages.status import message_states_plan
from airflow_provider_plivo.transport.core import Concurrent, Request, paged

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_plivo.transport.core import Plan

SRC = "+14155550100"


def hook() -> PlivoHook:
    return PlivoHook(retry_wait_initial=0.05, retry_wait_max=0.2)


@pytest.fixture(params=["blocking", "async"])
def run(request) -> Callable[[Plan[Any]], Any]:
    """Run a plan through one driver, built from the same hook."""
    if request.param == "blocking":
        return hook().client.run

    def run_async(plan: Plan[Any]) -> Any:
        async def main() -> Any:
            async with await hook().aget_client() as client:
                return await client.run(plan)

        return asyncio.run(main())

    return run_async


def send(dst: list[str], **message: Any) -> Plan[Any]:
    payload, numbers = checked_message(src=SRC, dst=dst, **{"text": "hi", **message})
    return send_plan(payload, numbers, log=hook().log)


def posts(sandbox) -> list[int]:
    return [r.status for r in sandbox.requests if r.method == "POST" and "/Message" in r.path]


def test_a_large_send_is_split_into_requests_of_1000_and_each_number_messaged_once(plivo_sandbox, run):
    numbers = [f"+1415555{n:04d}" for n in range(2500)]

    sent = run(send(numbers))

    assert len(sent) == 2500
    assert posts(plivo_sandbox) == [202, 202, 202]
    assert sorted(m["number"] for m in sent.messages) == sorted(numbers)


def test_numbers_plivo_refuses_come_back_as_invalid(plivo_sandbox, run):
    refused = "+447700900123"

    sent = run(send(["+14155550101", refused]))

    assert sent.invalid_numbers == [refused]
    assert [m["number"] for m in sent.messages] == ["+14155550101"]


def test_an_expired_media_id_is_an_unknown_media_error(plivo_sandbox, make_media, run):
    media_ids = [r["media_id"] for r in hook().upload_media(make_media(1))]
    plivo_sandbox.advance_clock(timedelta(hours=6, seconds=1))

    with pytest.raises(PlivoUnknownMediaError, match="within 6 hours of upload"):
        run(send(["+14155550101"], text=None, media_ids=media_ids))


def test_a_paged_list_is_walked_to_its_last_page(plivo_sandbox, make_media, run):
    hook().upload_media(make_media(45))

    media = run(paged("Media/", {}, page_size=20))

    assert len({m["media_id"] for m in media}) == 45
    pages = [r for r in plivo_sandbox.requests if r.method == "GET" and "/Media" in r.path]
    assert len(pages) == 3


def test_retry_after_is_waited_out_and_the_send_goes_once(plivo_sandbox, run, capfd):
    plivo_sandbox.script_faults({1: "429-retry"}, endpoint="message")

    sent = run(send(["+14155550101"]))

    assert len(sent) == 1
    assert posts(plivo_sandbox) == [429, 202]
    assert "retrying in 1.0 s" in capfd.readouterr().out + capfd.readouterr().err


def test_many_message_states_are_read_from_the_message_list(plivo_sandbox, run):
    sent = run(send([f"+1415555{n:04d}" for n in range(60)]))

    states = run(message_states_plan(list(sent)))

    assert list(states) == list(sent)
    gets = [r.path for r in plivo_sandbox.requests if r.method == "GET"]
    assert len(gets) <= 5  # the first message, then pages of 20, not 60 single reads


def test_a_throttled_message_list_is_not_retried_and_single_reads_answer(plivo_sandbox, run):
    sent = run(send([f"+1415555{n:04d}" for n in range(21)]))
    plivo_sandbox.script_faults({2: "429-retry"}, endpoint="status")  # the first read, then the list

    states = run(message_states_plan(list(sent), list_pages=20))

    assert list(states) == list(sent)
    reads = [r for r in plivo_sandbox.requests if r.method == "GET"]
    assert [r.status for r in reads if r.path.endswith("/Message/")] == [429]
    assert len(reads) == 1 + 21


def test_a_message_list_without_room_leaves_every_read_single(plivo_sandbox, run):
    sent = run(send([f"+1415555{n:04d}" for n in range(25)]))

    states = run(message_states_plan(list(sent), list_pages=0))

    assert list(states) == list(sent)
    reads = [r.path for r in plivo_sandbox.requests if r.method == "GET"]
    assert len(reads) == 25
    assert not [path for path in reads if path.endswith("/Message/")]


def test_an_unknown_message_is_left_out_and_the_others_answered(plivo_sandbox, run):
    sent = list(run(send([f"+1415555{n:04d}" for n in range(29)])))
    unknown = "00000000-0000-4000-8000-000000000000"

    states = run(message_states_plan([unknown, *sent], list_pages=20))

    assert list(states) == sent


def test_a_poll_whose_list_budget_was_spent_meanwhile_sends_no_list_request(plivo_sandbox, run):
    sent = run(send([f"+1415555{n:04d}" for n in range(25)]))
    limiter = hook().limiter  # the account's list budget, shared with the driver's hook
    for _ in range(20):  # another poll of the process took the whole minute
        with limiter.slot(Request("GET", "Message/")) as slot:
            slot.answered(200)

    states = run(message_states_plan(list(sent), list_pages=20))  # it saw room when it was planned

    assert list(states) == list(sent)
    reads = [r.path for r in plivo_sandbox.requests if r.method == "GET"]
    assert len(reads) == 25
    assert not [path for path in reads if path.endswith("/Message/")]


def test_plans_read_plivos_clock_from_its_date_header(plivo_sandbox, run):
    sandbox = plivo_sandbox
    sandbox.advance_clock(-timedelta(minutes=3))

    clock = run(plivo_clock(hook().log))

    assert clock is not None
    assert -timedelta(minutes=3, seconds=2) <= clock.ahead <= -timedelta(minutes=3) + timedelta(seconds=1)
    assert sandbox.now() <= clock.now + timedelta(seconds=1)


def interrupted_batch(driver: str, requests: list[Request], **hook: Any) -> dict[int, list[Any]]:
    """``requests``, two at a time, whose caller is interrupted (Ctrl-C, Airflow's timeout)
    while recording the first outcome: what each request was told, by index."""
    told: dict[int, list[Any]] = {}

    def record(n: int, outcome: Any) -> None:
        first = not told
        told.setdefault(n, []).append(outcome)
        if first:
            raise KeyboardInterrupt

    def plan() -> Plan[Any]:
        return (yield Concurrent(requests, record))

    stopping = PlivoHook(max_concurrency=2, **{"retry_wait_initial": 0.05, **hook})

    async def main() -> None:
        async with await stopping.aget_client() as client:
            await client.run(plan())

    with pytest.raises(KeyboardInterrupt):
        stopping.client.run(plan()) if driver == "blocking" else asyncio.run(main())
    return told


@pytest.mark.parametrize("driver", ["blocking", "async"])
def test_an_interrupted_batch_tells_every_outcome_before_the_interrupt_goes_on(
    plivo_sandbox_factory, driver, capfd
):
    sandbox = plivo_sandbox_factory(latency_ms=200)

    told = interrupted_batch(driver, [Request("GET", "Media/") for _ in range(5)])

    # Every request is told: the one being recorded again, those in flight with their answer,
    # those still waiting for a place as not sent, and none of those went out.
    assert sorted(told) == [0, 1, 2, 3, 4]
    assert sum(len(outcomes) == 2 for outcomes in told.values()) == 1
    answered = [o[-1] for o in told.values() if isinstance(o[-1], dict)]
    refused = [o[-1] for o in told.values() if isinstance(o[-1], PlivoInterruptedError)]
    assert len(answered) + len(refused) == 5
    assert refused
    assert sandbox.count_requests("GET", "/Media/") == len(answered)
    assert "Stopping: " in capfd.readouterr().out


@pytest.mark.parametrize("driver", ["blocking", "async"])
def test_an_interrupt_ends_a_retry_s_backoff_at_once_and_the_retry_is_not_sent(plivo_sandbox, driver):
    plivo_sandbox.script_faults("503", endpoint="status", count=1)
    unknown = [Request("GET", f"Message/{n:08d}-0000-4000-8000-000000000000/") for n in range(2)]

    started = time.monotonic()
    told = interrupted_batch(driver, unknown, retry_wait_initial=30.0)

    # One read met the 503 and waits 30 s or more to retry; the other's 404 is being recorded.
    # The retry is not sent: the read is told it was not (or, stopped before its backoff began,
    # its 503).
    assert time.monotonic() - started < 10
    statuses = sorted(str(getattr(o[-1], "status_code", None) or type(o[-1]).__name__) for o in told.values())
    assert statuses in (["404", "PlivoInterruptedError"], ["404", "503"]), told
    assert [r.status for r in plivo_sandbox.requests if "/Message/" in r.path] in ([503, 404], [404, 503])
