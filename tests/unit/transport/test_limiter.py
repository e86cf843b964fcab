"""The account limiter and a hook's view of it: each pure piece on a fake clock, the assertions
of the per-hook limiter's tests (tests/test_rate_limit.py) ported to the fake clock, and the
driver's waking of threads and coroutines on real time."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from airflow_provider_plivo.limits import ACCOUNT_MAX_IN_FLIGHT, ACCOUNT_RATE_LIMIT, ACCOUNT_RATE_LIMIT_PERIOD
from airflow_provider_plivo.sandbox import PlivoSandbox
from airflow_provider_plivo.transport.core import Request
from airflow_provider_plivo.transport.limiter import (
    CONCURRENCY_FLOOR,
    INITIAL_CONCURRENCY,
    SHARE_HEADROOM,
    AccountLimiter,
    AccountLimits,
    AccountShare,
    AnswerWindow,
    BudgetSpent,
    ConcurrencyWindow,
    HookLimiter,
    RetryAfterPause,
    Slot,
    StarvedProbe,
    account_limiter,
    rate_wait,
)
from tests.support.plans import Lines


class FakeClock:
    """Monotonic seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def view(
    clock: FakeClock | None = None,
    account: AccountLimiter | None = None,
    *,
    account_rate: int | None = ACCOUNT_RATE_LIMIT,
    account_period: float = ACCOUNT_RATE_LIMIT_PERIOD,
    **settings: Any,
) -> HookLimiter:
    """A hook's view; by default of a fresh account on ``clock`` (the per-hook limiter's tests
    gave the hook the account's figures: ``account_rate``/``account_period``)."""
    if account is None:
        account = AccountLimiter(
            rate_limit=account_rate, period=account_period, clock=clock or time.monotonic
        )
    defaults: dict[str, Any] = {"max_concurrency": 100, "rate_limit": 300, "rate_limit_period": 5.0}
    return HookLimiter(account, **{**defaults, **settings})


def start(limits: HookLimiter, clock: FakeClock | None = None) -> Slot:
    """A place now, or (given the fake ``clock``) once the wait is over, as ``slot()`` would wait."""
    while not isinstance(slot := limits.try_start(limits.account.clock()), Slot):
        assert clock is not None, f"no place: wait {slot}"
        assert not math.isinf(slot), "no place until an answer comes"
        clock.advance(max(slot, 1e-6))  # a float's rounding may leave a wait too small to pass
    return slot


def answer_at_once(
    limits: HookLimiter, clock: FakeClock, statuses: list[int], *, out_for: float = 0.02
) -> None:
    """Start one request per status together, keep them out ``out_for`` seconds (at least a
    little: real requests take time), answer each, the last first (as ``with`` blocks end)."""
    slots = [start(limits, clock) for _ in statuses]
    clock.advance(max(out_for, 1e-4))
    for slot, status in zip(slots, statuses, strict=True):
        slot.answered(status)
    for slot in reversed(slots):
        limits.account.release(limits, slot)


def run_sequentially(limits: HookLimiter, clock: FakeClock, seconds: float) -> list[float]:
    """One request after another, each answered at once, for ``seconds`` of fake time; the starts."""
    starts = []
    deadline = clock() + seconds
    while clock() < deadline:
        slot = limits.try_start(clock())
        if not isinstance(slot, Slot):
            clock.advance(max(slot, 1e-6))  # a float's rounding may leave a wait too small to pass
            continue
        starts.append(clock())
        slot.answered(200)
        limits.account.release(limits, slot)
    return starts


def simulate(
    limits: HookLimiter, clock: FakeClock, requests_: int, latencies: list[float]
) -> tuple[list[float], int]:
    """``requests_`` requests, as many at a time as ``limits`` allows, the n-th out for
    ``latencies[n % len]`` fake seconds; their starts and the most in flight at once."""
    out: list[tuple[float, Slot]] = []
    starts: list[float] = []
    most = 0
    while len(starts) < requests_ or out:
        slot = limits.try_start(clock()) if len(starts) < requests_ else math.inf
        if isinstance(slot, Slot):
            out.append((clock() + latencies[len(starts) % len(latencies)], slot))
            starts.append(clock())
            most = max(most, len(out))
            continue
        due = min((when for when, _ in out), default=math.inf)
        clock.advance(max(1e-6, min(clock() + slot, due) - clock()))
        for when, done in [o for o in out if o[0] <= clock()]:
            out.remove((when, done))
            done.answered(200)
            limits.account.release(limits, done)
    return starts, most


def most_in_any_period(starts: list[float], period: float) -> int:
    return max(sum(1 for t in starts if s <= t < s + period) for s in starts)


# -- the pure pieces ---------------------------------------------------------------------------


def most_in_flight(limiters: list[HookLimiter]) -> int:
    """The most requests in flight at once when each of ``limiters`` makes one request from its
    own coroutine, all together on one event loop, each out for 10 ms."""
    in_flight, most = 0, 0

    async def request(limits: HookLimiter) -> None:
        nonlocal in_flight, most
        async with limits.aslot() as slot:
            in_flight += 1
            most = max(most, in_flight)
            await asyncio.sleep(0.01)
            in_flight -= 1
            slot.answered(200)

    async def main() -> None:
        await asyncio.gather(*map(request, limiters))

    asyncio.run(main())
    return most


def answered(started: float, status: int, retry_after: float | None = None) -> Slot:
    slot = Slot(started)
    slot.answered(status, retry_after)
    return slot


def test_a_window_grows_by_two_per_round_trip_only_while_full_and_fast():
    window = ConcurrencyWindow(initial=4, ceiling=10, period=5.0)
    for _ in range(4):
        window.started(0.0, 4)
    for _ in range(4):
        window.grow(answered(0.0, 200), 0.1)
    assert window.window == pytest.approx(6, abs=0.3)  # one round trip: two more, not a doubling

    window.grow(answered(0.5, 200), 0.6)  # not full since 0.5: no growth
    assert window.concurrency == 5


def test_a_window_steps_back_when_answers_come_slow_below_the_start_down_to_a_floor():
    window = ConcurrencyWindow(initial=20, ceiling=100, period=5.0)
    window.grow(answered(0.0, 200), 0.1)
    for n in range(20):
        window.grow(answered(0.2 + n * 0.01, 200), 1.0 + n * 0.01)  # eight times the fastest
    assert window.concurrency == 10  # half a request per slow answer

    for n in range(100):
        window.grow(answered(2.0 + n * 0.01, 200), 3.0 + n * 0.01)
    assert window.concurrency == CONCURRENCY_FLOOR == 8


def test_a_throttle_cuts_the_window_no_lower_than_the_floor_and_a_floored_one_not_at_all():
    window = ConcurrencyWindow(initial=10, ceiling=100, period=5.0)
    window.cut(1.0)
    assert window.concurrency == CONCURRENCY_FLOOR == 8  # 7 at seven tenths
    window.cut(2.0)
    assert window.concurrency == 8

    small = ConcurrencyWindow(initial=5, ceiling=100, period=5.0)  # a hook asked for 5 at most
    small.cut(1.0)
    assert small.concurrency == 5


def test_a_window_cuts_to_seven_tenths_once_per_round_trip_then_grows_by_one_per_round_trip():
    window = ConcurrencyWindow(initial=20, ceiling=100, period=5.0)
    early = Slot(1.0)
    assert window.may_cut(early)
    window.cut(2.0)
    assert window.concurrency == 14
    assert not window.may_cut(early)
    assert window.may_cut(Slot(2.5))

    window.started(3.0, 14)
    for _ in range(14):
        window.grow(answered(3.0, 200), 3.1)
    assert window.window == pytest.approx(15, abs=0.05)  # one round trip's worth: about one more


def test_the_answer_window_dates_requests_by_their_answer_and_counts_those_in_flight():
    answers = AnswerWindow(5.0)
    assert rate_wait(answers, 3, 3, 0.0) == math.inf  # an answer must come first
    for when in (1.0, 2.0, 3.0):
        answers.add(when, clean=when != 2.0)
    assert (len(answers), answers.clean) == (3, 2)
    assert rate_wait(answers, 0, 3, 4.0) == pytest.approx(2.0)  # the first ages out at 6.0
    assert rate_wait(answers, 0, 4, 4.0) == 0
    assert rate_wait(answers, 0, 3, 6.0) == 0
    assert (len(answers), answers.clean, answers.oldest_clean()) == (2, 1, 3.0)
    assert rate_wait(answers, 10**6, None, 6.0) == 0


def test_the_share_is_the_clean_answers_or_the_concurrency_holds_a_period_then_grows():
    share = AccountShare(300, 5.0)
    assert share.rate == 300
    share.cut(10.0, clean=40, floor=16.0)
    assert share.rate == 40
    share.grow(answered(11.0, 200), 12.0, last_cut=10.0)  # held: credited when the hold ends
    share.grow(answered(9.0, 200), 12.0, last_cut=10.0)  # out before the cut: the account took it
    assert share.rate == 41
    share.grow(answered(14.0, 200), 15.0, last_cut=10.0)  # the hold is over: both count
    assert share.rate == 43
    share.grow(answered(15.0, 200), 16.0, last_cut=10.0)
    assert share.rate == 44

    answers = AnswerWindow(5.0)
    answers.add(15.0, clean=True)
    assert share.wait(answers, 43, 16.0) == pytest.approx(4.0)
    assert share.wait(answers, 42, 16.0) == 0

    unlimited = AccountShare(None, 5.0)
    unlimited.cut(1.0, clean=3, floor=2.0)
    unlimited.grow(answered(2.0, 200), 7.0, last_cut=1.0)
    assert unlimited.rate is None


def test_a_share_filled_during_its_hold_grows_when_the_hold_ends_not_a_period_later():
    share = AccountShare(300, 5.0)
    share.cut(10.0, clean=0, floor=5.0)
    answers = AnswerWindow(5.0)
    for moment in (11.0, 12.0, 13.0, 14.0, 14.5):  # the whole share, answered within the hold
        share.grow(answered(moment - 0.2, 200), moment, last_cut=10.0)
        answers.add(moment, clean=True)

    # Full, with no answer to come: without the credit it would wait for 11.0's to age out.
    assert share.wait(answers, 0, 14.6) == pytest.approx(0.4)
    assert share.wait(answers, 0, 15.0) == 0
    assert share.rate == 10


def test_the_share_is_at_least_our_part_of_the_requests_the_account_held_at_once():
    share = AccountShare(300, 5.0, max_in_flight=100)
    share.cut(1.0, clean=5, floor=14.0, held=18)  # 18 of ours out: 18 of 100 at once, 54 of 300
    assert share.rate == int(18 * 3 * SHARE_HEADROOM) == 81
    share.grow(answered(0.9, 429), 1.0, last_cut=1.0)  # another of that round refused: it held 17
    assert share.rate == int(17 * 3 * SHARE_HEADROOM) == 76
    for _ in range(90):  # clean answers of that round: what we had of the period is more
        share.grow(answered(0.9, 200), 1.1, last_cut=1.0)
    assert share.rate == 95


def test_beyond_the_held_part_the_share_goes_one_request_at_a_time_during_the_hold():
    share = AccountShare(300, 5.0, max_in_flight=100)
    share.cut(1.0, clean=0, floor=1.0, held=18)  # our part: 54 of 300, rounded up to 81
    answers = AnswerWindow(5.0)
    for _ in range(60):
        answers.add(1.5, clean=True)
    assert share.wait(answers, 0, 2.0) == 0  # 60 of 81: beyond the 54 held, one may go
    assert share.wait(answers, 1, 2.0) == pytest.approx(4.0)  # but not a second beside it
    assert share.wait(answers, 1, 6.0) == 0  # the hold is over: the whole share again
    assert share.wait(answers, 20, 6.0) == 0
    assert share.wait(answers, 21, 6.0) > 0  # and no more than it
    assert share.wait(answers, 10, 2.0) == pytest.approx(4.0)
    answers_within = AnswerWindow(5.0)
    for _ in range(40):
        answers_within.add(1.5, clean=True)
    assert share.wait(answers_within, 13, 2.0) == 0  # 53 of the 54 held: as many as fit at once


def test_a_request_beyond_the_held_part_during_the_hold_is_one_of_the_paced_rest():
    share = AccountShare(300, 5.0, max_in_flight=100)
    share.cut(1.0, clean=0, floor=1.0, held=18)  # 54 held, 81 in all
    answers = AnswerWindow(5.0)
    for _ in range(40):
        answers.add(1.5, clean=True)
    assert not share.paced(answers, 13, 2.0)  # the 54th: within what we held
    assert share.paced(answers, 14, 2.0)
    assert not share.paced(answers, 14, 6.0)  # the hold is over


def test_within_a_hold_only_a_paced_requests_throttle_restarts_it():
    share = AccountShare(300, 5.0, max_in_flight=100)
    share.cut(1.0, clean=30, floor=14.0)
    share.cut(2.0, clean=30, floor=10.0, restart_hold=False)  # the period is still full
    assert share.held_until == 6.0
    share.cut(3.0, clean=30, floor=10.0)  # one of the paced rest: too much
    assert share.held_until == 8.0
    share.cut(9.0, clean=30, floor=10.0, restart_hold=False)  # after the hold: a new one
    assert share.held_until == 14.0


def refused_probe(limits: HookLimiter, clock: FakeClock) -> None:
    """Half a second after the last 429, one request alone, refused."""
    assert limits.try_start(clock()) == pytest.approx(0.5)
    clock.advance(0.5)
    probe = start(limits)
    assert limits.try_start(clock()) == math.inf
    clock.advance(0.15)
    probe.answered(429)
    limits.account.release(limits, probe)


def test_a_probe_goes_alone_and_spaced_while_the_account_gives_us_nothing():
    probe = StarvedProbe(5.0)
    assert probe.wait(30, 1.0) == 0  # not starved: no say
    probe.throttled(1.0, clean=30, concurrency=14, retry_after=None)  # a round trip's worth came
    assert probe.wait(30, 1.0) == 0
    probe.throttled(1.0, clean=0, concurrency=14, retry_after=None)
    assert probe.wait(1, 1.0) == math.inf  # one at a time
    assert probe.wait(0, 1.2) == pytest.approx(0.3)  # a tenth of the period after the last 429
    probe.throttled(2.0, clean=0, concurrency=14, retry_after=0.2)
    assert probe.wait(0, 2.0) == 0  # a Retry-After holds every request already
    assert probe.fed()  # the spell began with nothing answered: the cut read nothing
    assert not probe.fed()
    assert probe.wait(30, 2.0) == 0
    probe.throttled(3.0, clean=5, concurrency=14, retry_after=None)  # less than a round trip's
    assert probe.wait(1, 3.0) == math.inf
    assert not probe.fed()  # but the cut read those 5
    assert probe.wait(1, 3.0) == 0


def test_a_task_that_finds_the_period_spent_probes_alone_then_grows_from_the_first_answer():
    clock = FakeClock()
    limits = view(clock)
    answer_at_once(limits, clock, [429] * 20)  # others spent the account's period before we came
    assert (limits.concurrency, limits.rate) == (14, 14)  # one cut for the round
    for _ in range(6):
        refused_probe(limits, clock)
    assert (limits.concurrency, limits.rate, limits.throttles) == (14, 14, 26)  # probes cut nothing

    clock.advance(0.5)
    answer_at_once(limits, clock, [200], out_for=0.15)  # the period frees
    answer_at_once(limits, clock, [200] * 13, out_for=0.15)

    # the cut's hold would have kept it to 14 for 1.6 s more; it grows at once
    assert (limits.concurrency, limits.rate) == (14, 28)


def test_a_task_that_got_less_than_a_round_trip_this_period_probes_when_throttled_again():
    clock = FakeClock()
    limits = view(clock)
    answer_at_once(limits, clock, [200] * 5)
    answer_at_once(limits, clock, [429] * 15)  # it came as the period filled
    assert (limits.concurrency, limits.rate) == (14, 14)  # at least the concurrency it keeps
    for _ in range(3):  # not 9 more (14 less the 5 it has) into a full period, nor a cut for each
        refused_probe(limits, clock)
    assert (limits.concurrency, limits.rate) == (14, 14)
    clock.advance(0.5)
    answer_at_once(limits, clock, [200], out_for=0.15)  # room again: as many as the share allows
    assert len([start(limits) for _ in range(2)]) == 2


def test_a_retry_after_pause_holds_until_the_latest_end():
    pause = RetryAfterPause()
    assert pause.wait(0.0) == 0
    pause.hold(1.0, 2.0)
    pause.hold(1.5, 0.5)

    assert (pause.wait(2.0), pause.wait(3.0)) == (1.0, 0)


def test_the_account_keeps_to_plivos_hard_limits_for_fixed_requests_too():
    limits = AccountLimits()
    for _ in range(ACCOUNT_MAX_IN_FLIGHT):
        assert limits.wait(0.0, adaptive=False) == 0
        limits.start(0.0, adaptive=False)
    assert limits.wait(0.0, adaptive=False) == math.inf
    for _ in range(ACCOUNT_MAX_IN_FLIGHT):
        limits.finish(answered(0.0, 200), 1.0)
    for _ in range(ACCOUNT_RATE_LIMIT - ACCOUNT_MAX_IN_FLIGHT):
        limits.start(1.0, adaptive=False)
        limits.finish(answered(1.0, 200), 2.0)

    assert limits.wait(2.0, adaptive=False) == pytest.approx(4.0)  # 300 answered since 1.0
    assert limits.window.concurrency == INITIAL_CONCURRENCY  # the fixed requests filled no window


# -- what the per-hook limiter held (tests/test_rate_limit.py), on the account -----------------


@pytest.mark.parametrize("adaptive", [True, False])
def test_never_more_in_flight_or_per_period_than_the_ceilings(adaptive):
    clock = FakeClock()
    limits = view(clock, max_concurrency=4, rate_limit=12, rate_limit_period=0.2, adaptive=adaptive)
    starts, most = simulate(limits, clock, 60, [0.0, 0.002, 0.004])

    assert most <= 4
    # Every request started within one period of another is still counted at the later start.
    assert most_in_any_period(starts, 0.2) <= 12


@pytest.mark.parametrize("adaptive", [True, False])
def test_never_more_in_flight_or_per_period_than_the_ceilings_across_threads(adaptive):
    limits = view(max_concurrency=4, rate_limit=12, rate_limit_period=0.05, adaptive=adaptive)
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
    assert most_in_any_period(starts, 0.05) <= 12


def test_concurrency_starts_at_20_grows_two_per_round_trip_and_stops_at_the_ceiling():
    clock = FakeClock()
    limits = view(clock, max_concurrency=23, rate_limit=None, account_rate=None)
    assert limits.concurrency == INITIAL_CONCURRENCY == 20

    answer_at_once(limits, clock, [200] * 20)
    assert limits.concurrency == 21  # 21.9: about two more per round trip, not a doubling
    answer_at_once(limits, clock, [200] * 21)
    assert limits.concurrency == 23  # the hook's own ceiling
    for _ in range(40):
        answer_at_once(limits, clock, [200] * 23)
    assert limits.concurrency == 23


def test_a_window_not_filled_does_not_grow():
    clock = FakeClock()
    limits = view(clock)
    for _ in range(20):  # one request at a time, as a sensor polls
        answer_at_once(limits, clock, [200], out_for=0)

    assert limits.concurrency == INITIAL_CONCURRENCY


def test_a_throttle_cuts_the_concurrency_and_keeps_to_the_share_once_per_round_trip():
    clock = FakeClock()
    limits = view(clock)
    answer_at_once(limits, clock, [200] * 20)
    late = [start(limits) for _ in range(3)]
    clock.advance(0.01)
    answer_at_once(limits, clock, [429])  # the cut: the share is the 20 clean answers of the period
    assert (limits.concurrency, limits.rate) == (15, 20)  # 21.9 x 0.7
    for slot in late:  # out before the cut: no second cut, and the one the account took counts
        slot.answered(200 if slot is late[0] else 429)
        limits.account.release(limits, slot)

    assert (limits.concurrency, limits.rate, limits.throttles) == (15, 21, 3)


@pytest.mark.parametrize(("status", "retry_after"), [(503, None), (429, 0.0)])
def test_503_and_429_are_throttles(status, retry_after):
    clock = FakeClock()
    limits = view(clock)
    answer_at_once(limits, clock, [200] * 4, out_for=0)
    with limits.slot() as slot:
        slot.answered(status, retry_after=retry_after)

    assert (limits.concurrency, limits.rate, limits.throttles) == (14, 14, 1)  # 20 x 0.7


def test_a_retry_after_on_a_success_is_no_throttle():
    clock = FakeClock()
    limits = view(clock)
    with limits.slot() as slot:
        slot.answered(200, retry_after=0.0)

    assert (limits.concurrency, limits.rate, limits.throttles) == (20, 300, 0)


@pytest.mark.parametrize("adaptive", [True, False])
def test_retry_after_holds_every_new_request_of_the_account(adaptive):
    clock = FakeClock()
    limits = view(clock, adaptive=adaptive)
    other = view(account=limits.account, adaptive=not adaptive)
    with limits.slot() as slot:
        slot.answered(429, retry_after=0.3)

    assert limits.try_start(clock()) == pytest.approx(0.3)
    assert other.try_start(clock()) == pytest.approx(0.3)
    clock.advance(0.3)
    assert isinstance(limits.try_start(clock()), Slot)


def test_retry_after_holds_a_waiting_thread_on_real_time():
    limits = view()
    with limits.slot() as slot:
        slot.answered(429, retry_after=0.1)
    asked = time.monotonic()
    with limits.slot():
        started = time.monotonic()

    assert started - asked >= 0.09


def test_the_share_holds_for_a_period_then_grows_with_clean_answers():
    clock = FakeClock()
    limits = view(clock, rate_limit=100, rate_limit_period=0.3, account_rate=100, account_period=0.3)
    answer_at_once(limits, clock, [200] * 5, out_for=0)
    answer_at_once(limits, clock, [429], out_for=0)
    assert limits.rate == 14  # five clean answers, but at least the concurrency it keeps (20 x 0.7)
    clock.advance(0.3)  # the hold is over, and the five clean answers aged out

    answer_at_once(limits, clock, [200], out_for=0)  # five were less than a round trip's: a probe
    answer_at_once(limits, clock, [200] * 3, out_for=0)
    assert limits.rate == 18


def test_adaptive_off_keeps_the_fixed_limits():
    clock = FakeClock()
    limits = view(clock, max_concurrency=8, adaptive=False)
    answer_at_once(limits, clock, [200] * 8)
    answer_at_once(limits, clock, [429] * 3)
    answer_at_once(limits, clock, [200] * 8)

    assert (limits.concurrency, limits.rate, limits.throttles) == (8, 300, 3)


def test_coroutines_share_the_same_places():
    limits = view(max_concurrency=2)
    assert most_in_flight([limits] * 7) == 2


ACCOUNT_AT_START = (
    "the account in this process: 0 in flight of {} (Plivo allows 100), {} per 5 s, {} throttled answers; "
    "the message list: 0 in flight, 20 per 60 s (Plivo allows 20), 0 throttled answers"
)


def test_the_person_watching_reads_each_cut_and_where_the_hook_settled():
    clock = FakeClock()
    lines = Lines()
    limits = view(clock, log=lines)
    answer_at_once(limits, clock, [200] * 20)
    assert lines.lines == [
        "Settled: at most 21 requests to Plivo in flight and 300 per 5 s; 0 throttled answers "
        "(429, 503) absorbed; " + ACCOUNT_AT_START.format(21, 300, 0)
    ]
    answer_at_once(limits, clock, [200])  # nothing changed: nothing more to say
    answer_at_once(limits, clock, [200] * 3 + [429])

    assert len(lines.lines) == 2
    assert lines.lines[1].startswith(
        "Plivo throttled a request (HTTP 429): at most 15 requests to Plivo in flight and 21 per 5 s; "
        "1 throttled answers (429, 503) absorbed; the account in this process: "
    )
    assert limits.describe() == (
        "at most 15 requests to Plivo in flight and 24 per 5 s; 1 throttled answers (429, 503) absorbed; "
        + ACCOUNT_AT_START.format(15, 24, 1)
    )


def test_sandbox_answers_429_beyond_max_in_flight_and_refused_requests_hold_no_place():
    with PlivoSandbox(max_in_flight=2, latency_ms=150) as sandbox:
        url = f"{sandbox.url}/v1/Account/{sandbox.auth_id}/Media/"
        auth = (sandbox.auth_id, sandbox.auth_token)
        with ThreadPoolExecutor(max_workers=4) as pool:
            answers = list(pool.map(lambda _: requests.get(url, auth=auth, timeout=5), range(4)))
        after = requests.get(url, auth=auth, timeout=5)

    assert sorted(answer.status_code for answer in answers) == [200, 200, 429, 429]
    assert all("Retry-After" not in answer.headers for answer in answers)
    assert after.status_code == 200


def test_a_hook_without_a_rate_limit_gets_no_share_on_a_throttle():
    clock = FakeClock()
    limits = view(clock, rate_limit=None, account_rate=None)
    answer_at_once(limits, clock, [429])

    assert (limits.concurrency, limits.rate) == (14, None)


def test_a_hook_without_a_rate_limit_of_its_own_keeps_to_the_accounts_share():
    clock = FakeClock()
    limits = view(clock, rate_limit=None)
    answer_at_once(limits, clock, [429])

    assert (limits.concurrency, limits.rate) == (14, 14)


def test_a_fast_refusal_does_not_make_every_later_answer_look_slow():
    clock = FakeClock()
    limits = view(clock, rate_limit=None, account_rate=None)
    answer_at_once(limits, clock, [404], out_for=0)  # refused before its body was read
    answer_at_once(limits, clock, [200] * 20, out_for=0.05)

    assert limits.concurrency == 21


def test_the_fastest_round_trip_is_the_last_periods():
    clock = FakeClock()
    limits = view(clock, rate_limit=None, rate_limit_period=0.2, account_rate=None, account_period=0.2)
    answer_at_once(limits, clock, [200], out_for=0.001)
    clock.advance(0.25)  # that fast answer is older than a period: it says nothing of the queue now
    answer_at_once(limits, clock, [200] * 20, out_for=0.05)

    assert limits.concurrency == 21


def test_alone_a_hook_keeps_to_the_full_rate_limit_not_less():
    clock = FakeClock()
    limits = view(clock, rate_limit=60, rate_limit_period=0.5, account_rate=60, account_period=0.5)
    starts = run_sequentially(limits, clock, 2.0)

    later = [t for t in starts if t >= starts[0] + 1.0]
    assert 56 <= max(sum(1 for t in later if s <= t < s + 0.5) for s in later if s <= later[-1] - 0.5) <= 60


def test_after_a_throttle_one_request_at_a_time_says_nothing_more_until_something_changes():
    clock = FakeClock()
    lines = Lines()
    limits = view(clock, log=lines)
    answer_at_once(limits, clock, [200] * 4 + [429], out_for=0)
    said = len(lines.lines)
    for _ in range(50):  # pages of a list, one after another: the share grows, nothing else
        answer_at_once(limits, clock, [200], out_for=0)

    assert len(lines.lines) == said


# -- hooks on one account -----------------------------------------------------------------------


def test_one_limiter_per_account_in_a_process():
    one = account_limiter("https://api.plivo.com", "MATEST00000000000001")

    assert account_limiter("https://api.plivo.com/", "MATEST00000000000001") is one
    assert account_limiter("https://api.plivo.com", "MATEST00000000000002") is not one
    assert account_limiter("http://127.0.0.1:8080", "MATEST00000000000001") is not one
    with ThreadPoolExecutor(max_workers=8) as pool:
        found = set(
            pool.map(lambda _: id(account_limiter("https://x.test", "MATEST00000000000003")), range(64))
        )
    assert len(found) == 1


def test_hooks_of_one_account_learn_from_each_others_answers():
    clock = FakeClock()
    lines, others = Lines(), Lines()
    first = view(clock, log=lines)
    second = view(account=first.account, log=others)
    answer_at_once(first, clock, [200] * 4 + [429], out_for=0)

    # 20 x 0.7; 5 of ours were out at once: 5 of the account's 100, 15 of its 300 per 5 s, x 1.5
    assert (second.concurrency, second.rate, second.throttles) == (14, 22, 0)
    assert lines.lines[0].startswith("Plivo throttled a request (HTTP 429): at most 14")
    assert others.lines == []  # the cut is told where it happened
    assert "1 throttled answers" in second.describe()


def test_a_hooks_own_ceilings_hold_on_an_account_with_room():
    clock = FakeClock()
    small = view(clock, max_concurrency=3, rate_limit=5, rate_limit_period=1.0)
    big = view(account=small.account)
    slots = [start(small) for _ in range(3)]
    assert small.try_start(clock()) == math.inf
    assert isinstance(big.try_start(clock()), Slot)
    for slot in slots:
        slot.answered(200)
        small.account.release(small, slot)
    answer_at_once(small, clock, [200, 200], out_for=0)

    assert small.try_start(clock()) == pytest.approx(1.0, abs=1e-3)  # 5 answered in its period
    assert repr(small).startswith(
        "HookLimiter(3 in flight of 3, 5 per 1 s of 5, adaptive=True; AccountLimiter("
    )


def test_a_fixed_hook_skips_the_accounts_window_but_not_plivos_limits():
    clock = FakeClock()
    adaptive = view(clock)
    fixed = view(account=adaptive.account, adaptive=False)
    answer_at_once(adaptive, clock, [200] * 4 + [429], out_for=0)  # the window is 16 now
    slots = [start(fixed) for _ in range(ACCOUNT_MAX_IN_FLIGHT)]

    assert fixed.concurrency == 100
    assert fixed.try_start(clock()) == math.inf
    assert adaptive.try_start(clock()) == math.inf
    for slot in slots:
        adaptive.account.release(fixed, slot)  # no answer: neutral
    assert isinstance(fixed.try_start(clock()), Slot)


def test_bad_limits_are_refused():
    with pytest.raises(ValueError, match="1 or more"):
        view(max_concurrency=0)
    with pytest.raises(ValueError, match="1 or more"):
        AccountLimiter(max_in_flight=0)


# -- the driver: waiters woken, not polling -----------------------------------------------------


class Counting(HookLimiter):
    """A view that counts how often it is asked for a place."""

    asked = 0

    def try_start(self, now: float, request: Request | None = None) -> Slot | float:
        self.asked += 1
        return super().try_start(now, request)


def counting(account: AccountLimiter, **settings: Any) -> Counting:
    return Counting(
        account, **{"max_concurrency": 1, "rate_limit": None, "rate_limit_period": 5.0, **settings}
    )


def test_a_waiting_thread_is_woken_as_soon_as_a_place_frees():
    limits = counting(AccountLimiter())
    holder = limits.account.acquire(limits)
    woke: list[float] = []

    def wait() -> None:
        limits.account.acquire(limits)
        woke.append(time.monotonic())

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.1)
    asked = limits.asked
    freed = time.monotonic()
    limits.account.release(limits, holder)
    waiter.join(1)

    # The wait had no end of its own (an answer had to come first): only the release woke it.
    assert asked == 2  # asked once on arrival, once more for the wait: no polling in between
    assert len(woke) == 1
    assert woke[0] >= freed


def test_a_waiting_coroutine_is_woken_as_soon_as_a_place_frees_and_never_polls():
    limits = counting(AccountLimiter())

    async def main() -> int:
        holder = await limits.account.aacquire(limits)
        waiter = asyncio.ensure_future(limits.account.aacquire(limits))
        await asyncio.sleep(0.1)
        asked = limits.asked
        assert limits.account.waiting == 1
        limits.account.release(limits, holder)
        await asyncio.wait_for(waiter, 5)  # its wait had no end of its own: only the release ends it
        return asked

    assert asyncio.run(main()) == 2  # once for the holder, once for the waiter: nothing while it waited


def test_a_coroutine_is_woken_by_a_place_freed_in_another_thread():
    limits = counting(AccountLimiter())
    holder = limits.account.acquire(limits)

    async def main() -> float:
        threading.Timer(0.05, limits.account.release, (limits, holder)).start()
        asked = time.monotonic()
        await asyncio.wait_for(limits.account.aacquire(limits), 5)
        return time.monotonic() - asked

    assert asyncio.run(main()) >= 0.04  # held until the other thread freed the place, then woken


def test_a_coroutine_waits_out_a_known_wait_on_a_timer():
    limits = view(max_concurrency=10, rate_limit=None)
    with limits.slot() as slot:
        slot.answered(429, retry_after=0.05)

    async def main() -> float:
        asked = time.monotonic()
        async with limits.aslot():
            return time.monotonic() - asked

    assert 0.045 <= asyncio.run(main()) < 1  # the Retry-After, on a timer: not a poll of its own


def test_a_cancelled_waiter_leaks_no_place():
    limits = counting(AccountLimiter())

    async def main() -> None:
        holder = await limits.account.aacquire(limits)
        waiter = asyncio.ensure_future(limits.account.aacquire(limits))
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert (limits.account.waiting, limits.in_flight, limits.account.limits.in_flight) == (0, 1, 1)

        racing = asyncio.ensure_future(limits.account.aacquire(limits))
        await asyncio.sleep(0)
        limits.account.release(limits, holder)  # wakes it ...
        racing.cancel()  # ... but it is cancelled before it runs
        with pytest.raises(asyncio.CancelledError):
            await racing
        assert (limits.account.waiting, limits.in_flight, limits.account.limits.in_flight) == (0, 0, 0)
        async with limits.aslot():
            assert limits.in_flight == 1

    asyncio.run(main())
    assert limits.in_flight == 0


@pytest.mark.parametrize("adaptive", [True, False])
def test_200_hooks_of_one_account_never_have_more_than_100_in_flight(adaptive):
    account = (
        account_limiter("https://api.plivo.com", f"MATEST0000000000020{int(adaptive)}")
        if not adaptive
        else AccountLimiter(rate_limit=None)  # no pace: the window alone decides, and quickly
    )
    hooks = [
        HookLimiter(account, max_concurrency=100, rate_limit=300, rate_limit_period=5.0, adaptive=adaptive)
    ]
    hooks += [
        HookLimiter(account, max_concurrency=100, rate_limit=300, rate_limit_period=5.0, adaptive=adaptive)
        for _ in range(199)
    ]
    most = most_in_flight(hooks)
    assert most <= ACCOUNT_MAX_IN_FLIGHT
    assert most >= (90 if not adaptive else INITIAL_CONCURRENCY)
    assert (account.waiting, account.limits.in_flight) == (0, 0)


def test_several_event_loops_and_threads_share_one_account():
    account = AccountLimiter(max_in_flight=10, rate_limit=None)
    lock = threading.Lock()
    in_flight, most = 0, 0

    def count(step: int) -> None:
        nonlocal in_flight, most
        with lock:
            in_flight += step
            most = max(most, in_flight)

    def loop_of_coroutines() -> None:
        hook = HookLimiter(account, max_concurrency=8, rate_limit=None, rate_limit_period=5.0, adaptive=False)

        async def one() -> None:
            async with hook.aslot() as slot:
                count(1)
                await asyncio.sleep(0.005)
                count(-1)
                slot.answered(200)

        async def main() -> None:
            await asyncio.gather(*(one() for _ in range(25)))

        asyncio.run(main())

    def blocking() -> None:
        hook = HookLimiter(account, max_concurrency=8, rate_limit=None, rate_limit_period=5.0, adaptive=False)
        for _ in range(10):
            with hook.slot() as slot:
                count(1)
                time.sleep(0.002)
                count(-1)
                slot.answered(200)

    threads = [threading.Thread(target=loop_of_coroutines) for _ in range(4)]
    threads += [threading.Thread(target=blocking) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert not any(thread.is_alive() for thread in threads)
    assert most <= 10
    assert (account.waiting, account.limits.in_flight, len(account.limits.answers)) == (0, 0, 140)


# -- the message list's own budget ---------------------------------------------------------------

LIST = Request("GET", "Message/", params={"limit": 20, "offset": 0})
UPLOAD = Request("POST", "Media/")


def start_list(limits: HookLimiter, clock: FakeClock) -> Slot:
    while not isinstance(slot := limits.try_start(clock(), LIST), Slot):
        assert not math.isinf(slot), "no place until an answer comes"
        clock.advance(max(slot, 1e-6))
    return slot


def test_list_requests_keep_to_20_per_minute_while_other_requests_go_on():
    clock = FakeClock()
    limits = view(clock)
    starts = []
    for _ in range(50):
        slot = start_list(limits, clock)
        starts.append(clock())
        slot.answered(200)
        limits.account.release(limits, slot)

    assert most_in_any_period(starts, 60.0) == 20
    assert starts[19] == starts[0]
    assert starts[20] == pytest.approx(starts[0] + 60.0)
    assert isinstance(limits.try_start(clock()), Slot)  # the account itself has room


def test_a_list_request_takes_a_place_from_the_account_too():
    clock = FakeClock()
    limits = view(clock, max_concurrency=2)
    first, second = start_list(limits, clock), start_list(limits, clock)

    assert (limits.account.limits.in_flight, limits.account.message_list.in_flight) == (2, 2)
    assert limits.try_start(clock(), LIST) == math.inf  # the hook's ceiling holds it
    for slot in (first, second):
        slot.answered(200)
        limits.account.release(limits, slot)
    assert (limits.account.limits.in_flight, limits.account.message_list.in_flight) == (0, 0)
    assert limits.account.limits.answers.clean == 2


@pytest.mark.parametrize("retry_after", [None, 30.0])
def test_a_throttled_list_slows_the_list_only(retry_after):
    clock = FakeClock()
    limits = view(clock)
    log = Lines()
    limits.log = log
    before = (limits.concurrency, limits.rate, limits.account.limits.throttles)
    for _ in range(5):
        slot = start_list(limits, clock)
        slot.answered(200)
        limits.account.release(limits, slot)
    with limits.slot(LIST) as slot:
        slot.answered(429, retry_after)

    assert (limits.concurrency, limits.rate, limits.account.limits.throttles) == before
    assert limits.account.limits.pause.wait(clock()) == 0
    assert isinstance(limits.try_start(clock()), Slot)  # uploads and sends start at once
    assert limits.message_list_room() == 0  # five of ours in the last minute: that was our part
    assert limits.account.message_list.throttles == 1
    assert "Plivo throttled a message list request (HTTP 429), which slows only message list" in log.lines[0]


def test_after_a_list_throttle_the_list_waits_for_its_own_requests_to_age_out():
    clock = FakeClock()
    limits = view(clock)
    for status in [200] * 5 + [429]:
        slot = start_list(limits, clock)
        slot.answered(status)
        limits.account.release(limits, slot)
    waited = limits.try_start(clock(), LIST)

    assert waited == pytest.approx(60.0)
    clock.advance(60.0)
    assert limits.message_list_room() == 5


def test_a_list_retry_after_holds_every_list_request_of_the_account_only():
    clock = FakeClock()
    limits = view(clock)
    other = view(account=limits.account, adaptive=False)
    with limits.slot(LIST) as slot:
        slot.answered(429, retry_after=0.5)

    assert other.try_start(clock(), LIST) == pytest.approx(0.5)
    assert other.message_list_room() == 0
    assert isinstance(other.try_start(clock()), Slot)


def test_hooks_of_one_account_share_one_list_budget_within_the_strictest_limit():
    clock = FakeClock()
    loose = view(clock, message_list_rate_limit=20)
    strict = view(account=loose.account, message_list_rate_limit=5, message_list_rate_limit_period=120.0)
    view(account=loose.account, message_list_rate_limit=None)  # adds no limit, takes none away
    for _ in range(5):
        slot = start_list(loose, clock)
        slot.answered(200)
        loose.account.release(loose, slot)

    assert (loose.message_list_room(), strict.message_list_room()) == (0, 0)
    assert strict.try_start(clock(), LIST) == pytest.approx(120.0)
    assert "the message list: 0 in flight, 5 per 120 s" in strict.describe()


def test_without_a_list_limit_the_list_has_no_budget_but_its_throttles_are_still_its_own():
    clock = FakeClock()
    limits = view(clock, message_list_rate_limit=None)
    for _ in range(30):
        slot = start_list(limits, clock)
        slot.answered(200)
        limits.account.release(limits, slot)
    assert limits.message_list_room() is None
    with limits.slot(LIST) as slot:
        slot.answered(429)

    assert (limits.concurrency, limits.rate, limits.account.limits.throttles) == (20, 300, 0)
    assert limits.message_list_room() is None


def test_a_list_slot_is_taken_through_the_drivers_context_managers():
    limits = view()

    async def main() -> None:
        async with limits.aslot(LIST) as slot:
            assert slot.budget is limits.account.message_list
            slot.answered(200)
        async with limits.aslot(UPLOAD) as slot:
            assert slot.budget is None
            slot.answered(200)

    asyncio.run(main())
    with limits.slot(LIST) as slot:
        slot.answered(200)
    assert limits.message_list_room() == 18


def test_a_list_429_without_retry_after_holds_the_list_while_one_place_frees():
    clock = FakeClock()
    limits = view(clock, adaptive=False)  # no learned share: the pause alone holds it
    with limits.slot(LIST) as slot:
        slot.answered(429)

    assert limits.try_start(clock(), LIST) == pytest.approx(3.0)  # 60 s / 20
    clock.advance(3.0)
    assert limits.message_list_room() == 19


def test_a_list_request_that_would_rather_not_wait_is_refused_unsent_when_the_list_is_spent():
    clock = FakeClock()
    limits = view(clock, max_concurrency=1)
    page = dataclasses.replace(LIST, waits_for_room=False)
    holder = limits.try_start(clock())  # an upload holds the hook's one place
    assert isinstance(holder, Slot)

    assert limits.try_start(clock(), page) == math.inf  # the list has room: it waits for the place
    holder.answered(200)
    limits.account.release(limits, holder)
    for _ in range(20):
        slot = start_list(limits, clock)
        slot.answered(200)
        limits.account.release(limits, slot)
    with pytest.raises(BudgetSpent, match=r"GET Message/: not sent, the message list: .* no room now"):
        limits.try_start(clock(), page)
    assert limits.try_start(clock(), LIST) == pytest.approx(60.0)  # a list_messages page waits
