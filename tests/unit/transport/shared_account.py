"""Several processes' limiters sharing one simulated Plivo account, on one fake clock.

Each "process" has its own :class:`AccountLimiter` (processes cannot see each other) and uploads
its chunks as the uploader does: at most the hook's concurrency of chunks under way (a chunk
waiting out a backoff keeps its place), each chunk retried after a 429 with the hook's backoff
(1 s doubling, plus up to 1 s of jitter), at most 5 attempts. The account admits at most
``rate`` arrivals in any ``period`` and ``in_flight`` at once, as the sandbox does: a refused
request counts toward neither and is answered after the same latency.

Processes share the machine's ``cores``: each puts its requests on the wire one after another,
``cpu`` seconds each (times the processes per core), so that, as on a real machine, a request that
took a place may wait for its process's CPU before Plivo sees it. Everything runs on a fake clock,
in a fraction of a second: the figures are the simulation's, not a measurement.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_plivo.transport.limiter import AccountLimiter, HookLimiter, Slot

RETRY_ATTEMPTS = 5
"""The hook's default attempts per chunk."""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Task:
    """One process's upload: its limiter, its chunks, and when it finished."""

    limiter: HookLimiter
    chunks: deque[int]
    start: float
    running: int = 0
    attempts: dict[int, int] = field(default_factory=dict)
    ready: deque[int] = field(default_factory=deque)
    """Chunks under way waiting for a place (after a submission or a backoff)."""
    done: float = math.nan
    busy_until: float = 0.0
    """When this process's CPU is free to put its next request on the wire."""
    failed: int = 0
    remaining: int = 0


@dataclass
class Outcome:
    seconds: float
    """From the first start to the last answer."""
    task_seconds: list[float]
    throttles: int
    failed: int

    @property
    def slowest_to_fastest(self) -> float:
        return max(self.task_seconds) / min(self.task_seconds)


class Simulation:
    """The account, the processes and the events between them, on one fake clock."""

    def __init__(self, tasks: list[Task], clock: Clock, rng: random.Random, **account: float) -> None:
        self.tasks, self.clock, self.rng = tasks, clock, rng
        self.latency, self.rate, self.period = account["latency"], account["rate"], account["period"]
        self.in_flight, self.send_cost = account["in_flight"], account["send_cost"]
        self.arrivals: deque[float] = deque()
        """When each admitted request of the last period arrived."""
        self.admitted = 0
        self.throttles = 0
        self.events: list[tuple[float, int, str, Task, int, Slot | None, bool]] = []
        self.order = itertools.count()

    def at(self, when: float, kind: str, task: Task, chunk: int = -1, slot: Slot | None = None) -> None:
        heapq.heappush(self.events, (when, next(self.order), kind, task, chunk, slot, False))

    def run(self) -> None:
        for task in self.tasks:
            self.at(task.start, "begin", task)
        while True:
            soonest = min((self.start_what_fits(task) for task in self.tasks), default=math.inf)
            if not self.events or self.events[0][0] > soonest:
                if math.isinf(soonest):
                    return
                self.clock.now = soonest
                continue
            when, _, kind, task, chunk, slot, ok = heapq.heappop(self.events)
            self.clock.now = max(self.clock.now, when)
            if kind == "begin":
                self.top_up(task)
            elif kind == "retry":
                task.ready.append(chunk)
            elif kind == "arrive":
                self.arrive(task, chunk, slot)
            else:
                assert slot is not None
                self.answer(task, chunk, slot, ok=ok)

    def start_what_fits(self, task: Task) -> float:
        """Start the chunks ``task``'s limiter lets go now; when it may start the next."""
        while task.ready:
            slot = task.limiter.try_start(self.clock.now)
            if not isinstance(slot, Slot):
                return self.clock.now + max(slot, 1e-6)
            task.busy_until = max(self.clock.now, task.busy_until) + self.send_cost
            self.at(task.busy_until, "arrive", task, task.ready.popleft(), slot)
        return math.inf

    def top_up(self, task: Task) -> None:
        """Submit chunks while fewer than the hook's concurrency are under way, as the uploader does."""
        while task.chunks and task.running < task.limiter.concurrency:
            task.running += 1
            task.ready.append(task.chunks.popleft())

    def arrive(self, task: Task, chunk: int, slot: Slot | None) -> None:
        while self.arrivals and self.arrivals[0] <= self.clock.now - self.period:
            self.arrivals.popleft()
        ok = self.admitted < self.in_flight and len(self.arrivals) < self.rate
        if ok:
            self.arrivals.append(self.clock.now)
            self.admitted += 1
        answer = self.clock.now + self.latency * self.rng.uniform(1.0, 1.05)
        heapq.heappush(self.events, (answer, next(self.order), "answer", task, chunk, slot, ok))

    def answer(self, task: Task, chunk: int, slot: Slot, *, ok: bool) -> None:
        self.admitted -= ok
        slot.answered(200 if ok else 429)
        task.limiter.account.release(task.limiter, slot)
        attempt = task.attempts[chunk] = task.attempts.get(chunk, 0) + 1
        self.throttles += not ok
        if ok or attempt >= RETRY_ATTEMPTS:
            task.failed += not ok
            task.running -= 1
            task.remaining -= 1
            if not task.remaining:
                task.done = self.clock.now
            self.top_up(task)
        else:  # the hook's backoff: 1 s doubling, plus up to 1 s of jitter
            self.at(
                self.clock.now + min(30.0, 2.0 ** (attempt - 1) + self.rng.random()), "retry", task, chunk
            )


def share_one_account(
    tasks: int,
    chunks: int,
    *,
    latency: float = 0.15,
    rate: int = 300,
    period: float = 5.0,
    in_flight: int = 100,
    seed: int = 0,
    cpu: float = 0.0025,
    cores: int = 2,
    late: float = 0.0,
    **hook: object,
) -> Outcome:
    """``tasks`` processes of ``chunks`` requests each, started within 20 ms (the last one
    ``late`` seconds after the others, as a busy executor starts it); ``hook`` are the hooks'
    settings (``adaptive``, ``max_concurrency``...)."""
    rng = random.Random(seed)
    clock = Clock()
    began = clock.now
    settings: dict[str, Any] = {
        "max_concurrency": 100,
        "rate_limit": rate,
        "rate_limit_period": period,
        **hook,
    }
    processes = [
        Task(
            HookLimiter(AccountLimiter(clock=clock), **settings),
            deque(range(chunks)),
            began + rng.uniform(0, 0.02) + (late if n == tasks - 1 else 0.0),
            remaining=chunks,
        )
        for n in range(tasks)
    ]
    simulation = Simulation(
        processes,
        clock,
        rng,
        latency=latency,
        rate=rate,
        period=period,
        in_flight=in_flight,
        send_cost=cpu * max(1.0, tasks / cores),
    )
    simulation.run()
    return Outcome(
        seconds=max(t.done for t in processes) - began,
        task_seconds=[t.done - t.start for t in processes],
        throttles=simulation.throttles,
        failed=sum(t.failed for t in processes),
    )
