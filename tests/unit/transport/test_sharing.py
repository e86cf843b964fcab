"""Processes sharing one account, each with its own limiter, on a simulated account that keeps
Plivo's limits (tests/unit/transport/shared_account.py): the issue's six and three tasks of
1,000 files (100 requests each), 150 ms latency, 300 per 5 s and 100 at once."""

from __future__ import annotations

import pytest

from tests.unit.transport.shared_account import share_one_account

BOUND = 5.15
"""The least time 600 requests take under 300 per 5 s: 300 at once, the rest 5 s later, one
round trip each."""

FIXED_16 = {"adaptive": False, "max_concurrency": 16}


@pytest.mark.parametrize("cpu", [0.0025, 0.008])
def test_six_tasks_sharing_an_account_finish_near_the_bound_together_with_few_429s(cpu):
    outcome = share_one_account(6, 100, cpu=cpu)

    assert outcome.failed == 0
    assert outcome.seconds <= 1.5 * BOUND
    assert outcome.throttles <= 60
    assert outcome.slowest_to_fastest <= 2.0


def test_six_adaptive_tasks_beat_six_fixed_ones_and_provoke_fewer_429s():
    adaptive, fixed = share_one_account(6, 100, cpu=0.008), share_one_account(6, 100, cpu=0.008, **FIXED_16)

    assert adaptive.seconds < fixed.seconds
    assert adaptive.throttles < fixed.throttles


@pytest.mark.parametrize("cpu", [0.0025, 0.008])
def test_three_tasks_that_fit_the_account_meet_no_429_and_are_as_fast_as_fixed_16(cpu):
    adaptive, fixed = share_one_account(3, 100, cpu=cpu), share_one_account(3, 100, cpu=cpu, **FIXED_16)

    assert (adaptive.throttles, fixed.throttles) == (0, 0)
    assert adaptive.seconds <= fixed.seconds
    assert adaptive.slowest_to_fastest <= 1.1


@pytest.mark.xfail(
    strict=True,
    reason="known gap (issue 21): a task started 1.5 s late finds the period spent and probes "
    "until it frees, then sends its 100 requests one per 24 ms of its simulated CPU, which the "
    "simulation does not give it more of once the others are done: about 8.1 s (12.3 s before "
    "the probe)",
)
def test_a_task_started_late_still_finishes_within_the_bound():
    outcome = share_one_account(6, 100, cpu=0.008, late=1.5)

    assert outcome.failed == 0
    assert outcome.seconds <= 1.5 * BOUND
