"""Benchmarks of the send side: waiting on a whole audience, and many deferred sensors at once.

1. Checking 2,500 sent messages: one ``GET Message/{uuid}/`` per message, one after another (what
   a loop over the official SDK does), against ``PlivoHook.get_messages`` (what the sensor and the
   trigger call: Plivo's message list, 20 messages a request, as far as the list's own 20 requests
   a minute have room now, then single reads at the account's 300 per 5 s), and the same poll
   again within the minute (the list's budget spent: single reads only). The sandbox keeps
   Plivo's limits (the list's 20 a minute included); it counts the requests.
2. 200 ``PlivoMessageTrigger`` runs in one event loop, as a triggerer runs them, against a
   sandbox 100 ms away that sends every message at once (``--mps none``: at Plivo's signup 5 SMS
   a second, the wall time would be the sandbox's 40 s of sending, not the triggers'): all must
   complete, and a sampler measures how late the loop wakes it (the longest stall of the loop).

The sandbox runs in its own process. Prints a table and appends it to benchmarks/messaging.md.
Run with ``bash scripts/benchmark.sh`` (or this file alone in the venv).
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
AUTH_ID, AUTH_TOKEN = "MABENCH0000000000000", "bench-token"
os.environ.update(
    AIRFLOW_HOME=tempfile.mkdtemp(prefix="plivo-bench-airflow-home-"), AIRFLOW__CORE__LOAD_EXAMPLES="False"
)
SRC = "+14155550100"


def audience(count: int) -> list[str]:
    """The first ``count`` numbers of the example audience (fictional 555-01XX numbers)."""
    with open(HERE.parent / "example_dags" / "audience.csv", newline="") as rows:
        return [row["phone"] for row in csv.DictReader(rows)][:count]


class Sandbox:
    """``plivo-sandbox`` in its own process, set as the ``plivo_default`` connection."""

    def __init__(self, *flags: str) -> None:
        command = [
            str(BIN / "plivo-sandbox"),
            "--port",
            "0",
            "--auth-id",
            AUTH_ID,
            "--auth-token",
            AUTH_TOKEN,
        ]
        self.process = subprocess.Popen([*command, *flags], stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().split()[-1]
        os.environ["AIRFLOW_CONN_PLIVO_DEFAULT"] = json.dumps(
            {"conn_type": "plivo", "login": AUTH_ID, "password": AUTH_TOKEN, "host": self.url}
        )

    def _stats(self) -> dict[str, Any]:
        return dict(requests.get(f"{self.url}/_sandbox/stats", timeout=10).json())

    def requests(self) -> int:
        return int(self._stats()["requests"])

    def throttled(self) -> int:
        return int(self._stats()["statuses"].get("429", 0))

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def checking_2500_messages() -> list[str]:
    from airflow_provider_plivo.hooks.plivo import PlivoHook

    rows = []
    with Sandbox("--latency-ms", "10") as sandbox:
        hook = PlivoHook(rate_limit=None)
        uuids = list(hook.send_message(src=SRC, dst=audience(2500), text="benchmark"))
        for name, check in (
            ("one GET per message, one after another", lambda: [hook.get_message(uuid) for uuid in uuids]),
            ("PlivoHook.get_messages (the sensor's poll)", lambda: hook.get_messages(uuids)),
            ("the same poll again within the minute", lambda: hook.get_messages(uuids)),
        ):
            before = sandbox.requests()
            started = time.perf_counter()
            states = check()
            seconds = time.perf_counter() - started
            assert len(states) == len(uuids)
            count = sandbox.requests() - before
            assert sandbox.throttled() == 0  # no 429: the list's own limit was kept
            rows.append(f"| 2,500 messages, 10 ms latency | {name} | {count:,} | {seconds:.2f} |")
    return rows


def _time_every_callback() -> list[float]:
    """Time each callback the event loop runs (a task's step between two awaits): the longest is
    how long the loop was blocked. Returns the list the timings go to."""
    timings = [0.0]
    run = asyncio.events.Handle._run

    def timed(handle: asyncio.events.Handle) -> None:
        started = time.perf_counter()
        run(handle)
        timings.append(time.perf_counter() - started)

    asyncio.events.Handle._run = timed  # type: ignore[method-assign]
    return timings


async def _triggers(count: int, poll_interval: float) -> tuple[int, float, list[float], float]:
    from airflow_provider_plivo.hooks.plivo import PlivoHook
    from airflow_provider_plivo.triggers.message import PlivoMessageTrigger

    uuids = list(
        await asyncio.to_thread(PlivoHook().send_message, src=SRC, dst=audience(count), text="bench")
    )
    triggers = [
        PlivoMessageTrigger(
            message_uuids=[uuid],
            plivo_conn_id="plivo_default",
            success_states=None,
            failure_states=["failed", "undelivered", "rejected"],
            poll_interval=poll_interval,
        )
        for uuid in uuids
    ]
    lags: list[float] = []
    done = asyncio.Event()
    longest_step = _time_every_callback()

    async def sample_lag() -> None:
        while not done.is_set():
            asked = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append(time.perf_counter() - asked - 0.01)

    async def run(trigger: PlivoMessageTrigger) -> str:
        async for event in trigger.run():
            return str(event.payload["status"])
        return "no event"

    sampler = asyncio.create_task(sample_lag())
    started = time.perf_counter()
    statuses = await asyncio.gather(*map(run, triggers))
    seconds = time.perf_counter() - started
    done.set()
    await sampler
    return statuses.count("success"), seconds, lags, max(longest_step)


def many_deferred_sensors(count: int = 200) -> list[str]:
    with Sandbox("--latency-ms", "100", "--mps", "none"):
        succeeded, seconds, lags, longest_step = asyncio.run(_triggers(count, poll_interval=0.5))
    lags.sort()
    return [
        f"| {count} deferred sensors, 100 ms latency | triggers completed | {succeeded} of {count} |",
        f"| | wall time | {seconds:.2f} s |",
        f"| | longest single step on the loop (blocking) | {longest_step * 1000:.1f} ms |",
        f"| | longest wake-up delay of a 10 ms timer (loop busy) | {lags[-1] * 1000:.1f} ms |",
        f"| | 99th percentile wake-up delay | {lags[int(len(lags) * 0.99)] * 1000:.1f} ms |",
        f"| | median wake-up delay | {statistics.median(lags) * 1000:.1f} ms |",
    ]


def main() -> int:
    table = [
        "| scenario | how | requests | seconds |",
        "|---|---|---:|---:|",
        *checking_2500_messages(),
        "",
        "| scenario | figure | value |",
        "|---|---|---:|",
        *many_deferred_sensors(),
    ]
    text = "\n".join(table) + "\n"
    print(text)
    (HERE / "messaging.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
