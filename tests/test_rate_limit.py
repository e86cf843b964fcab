"""The request limiter keeps a hook within its ceilings, grows on clean answers and cuts back on
throttles; the sandbox refuses what Plivo would refuse."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import pytest
import requests

from airflow_provider_plivo.sandbox import PlivoSandbox
from airflow_provider_plivo.utils.rate_limit import INITIAL_CONCURRENCY, RequestLimiter


class Lines:
    """A Log that keeps what it is told."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, msg: str, *args: object) -> None:
        self.lines.append(msg % args)

    def warning(self, msg: str, *args: object) -> None:
        self.lines.append(msg % args)


def limiter(**settings: object) -> RequestLimiter:
    defaults: dict[str, object] = {"max_concurrency": 100, "rate_limit": 300, "rate_limit_period": 5.0}
    return RequestLimiter(**{**defaults, **settings})  # type: ignore[arg-type]


def answer_at_once(limits: RequestLimiter, statuses: list[int], *, out_for: float = 0.02) -> None:
    """Start one request per status together, keep them out ``out_for`` seconds, answer each."""
    with ExitStack() as stack:
        slots = [stack.enter_context(limits.slot()) for _ in statuses]
        time.sleep(out_for)
        for slot, status in zip(slots, statuses, strict=True):
            slot.answered(status)


@pytest.mark.parametrize("adaptive", [True, False])
def test_never_more_in_flight_or_per_period_than_the_ceilings_across_threads(adaptive):
    limits = limiter(max_concurrency=4, rate_limit=12, rate_limit_period=0.2, adaptive=adaptive)
    lock = threading.Lock()
    in_flight, most, starts = 0, 0, []

    def request(n: int) -> None:
        nonlocal in_flight, most
        with limits.slot() as slot:
            with lock:
                in_flight += 1
                most = max(most, in_flight)
                starts.append(time.monotonic())
            time.sleep(0.002 * (n % 3))
            with lock:
                in_flight -= 1
            slot.answered(200)

    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(request, range(60)))

    assert most <= 4
    # Every request started within one period of another is still counted at the later start.
    assert max(sum(1 for t in starts if s <= t < s + 0.2) for s in starts) <= 12


def test_concurrency_starts_at_32_doubles_each_round_trip_and_stops_at_the_ceiling():
    limits = limiter(max_concurrency=80, rate_limit=None)
    assert limits.concurrency == INITIAL_CONCURRENCY == 32

    answer_at_once(limits, [200] * 32)
    assert limits.concurrency == 64
    answer_at_once(limits, [200] * 64)
    assert limits.concurrency == 80


def test_a_window_not_filled_does_not_grow():
    limits = limiter()
    for _ in range(20):  # one request at a time, as a sensor polls
        answer_at_once(limits, [200], out_for=0)

    assert limits.concurrency == 32


def test_a_throttle_halves_the_concurrency_and_keeps_to_the_share_once_per_round_trip():
    limits = limiter()
    answer_at_once(limits, [200] * 32)
    with ExitStack() as stack:
        late = [stack.enter_context(limits.slot()) for _ in range(3)]
        answer_at_once(limits, [429])  # the cut: the share is the 32 clean answers of the period
        assert (limits.concurrency, limits.rate) == (32, 32)
        for slot in late:  # out before the cut: no second cut, and the one the account took counts
            slot.answered(200 if slot is late[0] else 429)

    assert (limits.concurrency, limits.rate, limits.throttles) == (32, 33, 3)


@pytest.mark.parametrize(("status", "retry_after"), [(503, None), (200, 0.0)])
def test_503_and_retry_after_are_throttles_too(status, retry_after):
    limits = limiter()
    answer_at_once(limits, [200] * 4, out_for=0)
    with limits.slot() as slot:
        slot.answered(status, retry_after=retry_after)

    assert (limits.concurrency, limits.rate, limits.throttles) == (16, 4, 1)


def test_retry_after_holds_every_new_request_of_the_hook():
    limits = limiter()
    with limits.slot() as slot:
        slot.answered(429, retry_after=0.3)
    asked = time.monotonic()
    with limits.slot():
        started = time.monotonic()

    assert started - asked >= 0.29


def test_the_share_holds_for_a_period_then_grows_with_clean_answers():
    limits = limiter(rate_limit=100, rate_limit_period=0.3)
    answer_at_once(limits, [200] * 5, out_for=0)
    answer_at_once(limits, [429], out_for=0)
    assert limits.rate == 5
    time.sleep(0.3)  # the hold is over, and the five clean answers aged out

    answer_at_once(limits, [200] * 4, out_for=0)
    assert limits.rate == 9


def test_adaptive_off_keeps_the_fixed_limits():
    limits = limiter(max_concurrency=8, adaptive=False)
    answer_at_once(limits, [200] * 8)
    answer_at_once(limits, [429] * 3)
    answer_at_once(limits, [200] * 8)

    assert (limits.concurrency, limits.rate, limits.throttles) == (8, 300, 3)


def test_coroutines_share_the_same_places():
    limits = limiter(max_concurrency=2)
    in_flight, most = 0, 0

    async def request() -> None:
        nonlocal in_flight, most
        async with limits.aslot() as slot:
            in_flight += 1
            most = max(most, in_flight)
            await asyncio.sleep(0.01)
            in_flight -= 1
            slot.answered(200)

    async def main() -> None:
        await asyncio.gather(*(request() for _ in range(7)))

    asyncio.run(main())
    assert most == 2


def test_the_person_watching_reads_each_cut_and_where_the_hook_settled():
    lines = Lines()
    limits = limiter(log=lines)
    answer_at_once(limits, [200] * 32)
    assert lines.lines == [
        "Settled: at most 64 requests to Plivo in flight and 300 per 5 s; 0 throttled answers "
        "(429, 503) absorbed"
    ]
    answer_at_once(limits, [200])  # nothing changed: nothing more to say
    answer_at_once(limits, [200] * 3 + [429])

    assert lines.lines[1:] == [
        "Plivo throttled a request (HTTP 429): at most 32 requests to Plivo in flight and 33 per 5 s; "
        "1 throttled answers (429, 503) absorbed",
        "Settled: at most 32 requests to Plivo in flight and 36 per 5 s; 1 throttled answers "
        "(429, 503) absorbed",
    ]


def test_sandbox_answers_429_beyond_max_in_flight_and_refused_requests_hold_no_place():
    with PlivoSandbox(max_in_flight=2, latency_ms=300) as sandbox:
        url = f"{sandbox.url}/v1/Account/{sandbox.auth_id}/Media/"
        auth = (sandbox.auth_id, sandbox.auth_token)
        with ThreadPoolExecutor(max_workers=4) as pool:
            answers = list(pool.map(lambda _: requests.get(url, auth=auth, timeout=5), range(4)))
        after = requests.get(url, auth=auth, timeout=5)

    assert sorted(answer.status_code for answer in answers) == [200, 200, 429, 429]
    assert all("Retry-After" not in answer.headers for answer in answers)
    assert after.status_code == 200
