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


@pytest.mark.parametrize(("status", "retry_after"), [(503, None), (429, 0.0)])
def test_503_and_429_are_throttles(status, retry_after):
    limits = limiter()
    answer_at_once(limits, [200] * 4, out_for=0)
    with limits.slot() as slot:
        slot.answered(status, retry_after=retry_after)

    assert (limits.concurrency, limits.rate, limits.throttles) == (16, 16, 1)


def test_a_retry_after_on_a_success_is_no_throttle():
    limits = limiter()
    with limits.slot() as slot:
        slot.answered(200, retry_after=0.0)

    assert (limits.concurrency, limits.rate, limits.throttles) == (32, 300, 0)


@pytest.mark.parametrize("adaptive", [True, False])
def test_retry_after_holds_every_new_request_of_the_hook(adaptive):
    limits = limiter(adaptive=adaptive)
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
    assert limits.rate == 16  # five clean answers, but at least the concurrency it keeps (32 / 2)
    time.sleep(0.3)  # the hold is over, and the five clean answers aged out

    answer_at_once(limits, [200] * 4, out_for=0)
    assert limits.rate == 20


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
    ]
    assert limits.describe() == (
        "at most 32 requests to Plivo in flight and 36 per 5 s; 1 throttled answers (429, 503) absorbed"
    )


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


def test_a_hook_without_a_rate_limit_gets_no_share_on_a_throttle():
    limits = limiter(rate_limit=None)
    answer_at_once(limits, [429])

    assert (limits.concurrency, limits.rate) == (16, None)


def test_a_fast_refusal_does_not_make_every_later_answer_look_slow():
    limits = limiter(rate_limit=None)
    answer_at_once(limits, [404], out_for=0)  # refused before its body was read
    answer_at_once(limits, [200] * 32, out_for=0.05)

    assert limits.concurrency == 64


def test_the_fastest_round_trip_is_the_last_periods():
    limits = limiter(rate_limit=None, rate_limit_period=0.2)
    answer_at_once(limits, [200], out_for=0)
    time.sleep(0.25)  # that fast answer is older than a period: it says nothing of the queue now
    answer_at_once(limits, [200] * 32, out_for=0.05)

    assert limits.concurrency == 64


def test_alone_a_hook_keeps_to_the_full_rate_limit_not_less():
    limits = limiter(rate_limit=60, rate_limit_period=0.5)  # 10 at once, then 120 per second
    starts = []
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        with limits.slot() as slot:
            starts.append(time.monotonic())
            slot.answered(200)

    later = [t for t in starts if t >= starts[0] + 1.0]
    assert 56 <= max(sum(1 for t in later if s <= t < s + 0.5) for s in later if s <= later[-1] - 0.5) <= 60


def test_after_a_throttle_one_request_at_a_time_says_nothing_more_until_something_changes():
    lines = Lines()
    limits = limiter(log=lines)
    answer_at_once(limits, [200] * 4 + [429], out_for=0)
    said = len(lines.lines)
    for _ in range(50):  # pages of a list, one after another: the share grows, nothing else
        answer_at_once(limits, [200], out_for=0)

    assert len(lines.lines) == said
