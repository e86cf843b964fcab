"""An interrupt (Ctrl-C, SIGTERM, Airflow's execution_timeout: all arrive as an exception in the
task's main thread) stops work and keeps what finished: no request starts after it, what was in
flight is recorded, and the next try repeats nothing and loses nothing."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_plivo.exceptions import PlivoInterruptedError
from airflow_provider_plivo.hooks.plivo import PlivoHook
from tests.support.stores import MemoryStore

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from airflow_provider_plivo.records import MediaRecord, MessageRecord

SRC = "+14155550100"


class MemoryLedger:
    """The send ledger's contract, kept in memory (the task state store's stands in for it in
    DAG runs)."""

    def __init__(self) -> None:
        self.requests: dict[int, dict[str, Any]] = {}

    def earlier_requests(self) -> list[dict[str, Any]]:
        return list(self.requests.values())

    def record_start(self, numbers: Sequence[str], started: datetime, *, sent: Mapping[str, Any]) -> int:
        key = len(self.requests) + 1
        self.requests[key] = {"numbers": list(numbers), "started": started.isoformat(), "sent": dict(sent)}
        return key

    def record_answer(
        self, key: int, messages: Sequence[MessageRecord], invalid_numbers: Sequence[str]
    ) -> None:
        self.requests[key] |= {"messages": list(messages), "invalid_numbers": list(invalid_numbers)}


def ctrl_c() -> None:
    """A real SIGINT, as Ctrl-C sends (Airflow's execution_timeout is a real SIGALRM alike): it
    interrupts the main thread even where it is blocked waiting."""
    os.kill(os.getpid(), signal.SIGINT)


def when_requests_arrive(sandbox: Any, path: str, count: int, action: Any = ctrl_c) -> None:
    """Once the sandbox has received ``count`` POSTs to ``path`` (the last of them in flight, as
    the sandbox answers after its latency), do ``action``: by default Ctrl-C."""

    def watch() -> None:
        deadline = time.monotonic() + 30
        while len(posts(sandbox, path)) < count and time.monotonic() < deadline:
            time.sleep(0.005)
        action()

    threading.Thread(target=watch, daemon=True).start()


def posts(sandbox: Any, path: str) -> list[Any]:
    return [r for r in sandbox.requests if r.method == "POST" and path in r.path]


def test_an_interrupted_send_starts_nothing_more_records_what_came_and_the_retry_completes_it(
    plivo_sandbox_factory,
):
    sandbox = plivo_sandbox_factory(latency_ms=300)
    numbers = [f"+1415555{n:04d}" for n in range(5000)]  # 5 requests of 1,000
    ledger = MemoryLedger()

    when_requests_arrive(sandbox, "/Message", 2)  # the first answered, the second in flight
    with pytest.raises(KeyboardInterrupt):
        PlivoHook(max_concurrency=1).send_message(src=SRC, dst=numbers, text="hi", ledger=ledger)
    time.sleep(0.5)  # nothing more may start

    assert len(posts(sandbox, "/Message")) == 2
    answered = [r for r in ledger.requests.values() if "messages" in r]
    assert len(answered) == 5  # two answered, three recorded as surely never sent
    assert sum(len(r["messages"]) for r in answered) == 2000

    sent = PlivoHook(max_concurrency=1).send_message(src=SRC, dst=numbers, text="hi", ledger=ledger)

    assert len(posts(sandbox, "/Message")) == 5
    assert sorted(m["number"] for m in sent.messages) == numbers
    to = [m.to_number for m in sandbox.messages.values()]
    assert len(to) == len(set(to)) == 5000


def test_an_interrupted_upload_hands_over_every_finished_chunk_and_the_retry_repeats_none(
    plivo_sandbox_factory, make_media
):
    sandbox = plivo_sandbox_factory(latency_ms=300)
    files = make_media(40)  # 4 chunks of 10
    done: dict[str, MediaRecord] = {}

    def keep(records: list[MediaRecord]) -> None:
        done.update((r["file"], r) for r in records)

    when_requests_arrive(sandbox, "/Media", 2)
    with pytest.raises(KeyboardInterrupt):
        PlivoHook(max_concurrency=1).upload_media(files, on_chunk_uploaded=keep)
    time.sleep(0.5)

    assert len(posts(sandbox, "/Media")) == 2
    assert len(done) == 20
    assert len(sandbox.media) == 20

    records = PlivoHook(max_concurrency=1).upload_media(files, already_uploaded=done)

    assert len(posts(sandbox, "/Media")) == 4
    assert len(sandbox.media) == 40
    assert [r["file"] for r in records] == files
    assert len({r["media_id"] for r in records}) == 40


def test_an_interrupted_upload_with_a_ledger_writes_every_answered_chunk_before_it_ends(
    plivo_sandbox_factory, make_media
):
    from airflow_provider_plivo._airflow.upload_ledger import TaskStateUploadLedger
    from airflow_provider_plivo.media.sources import media_files

    sandbox = plivo_sandbox_factory(latency_ms=300)
    files = make_media(40)  # 4 chunks of 10
    store = MemoryStore()

    when_requests_arrive(sandbox, "/Media", 2)
    with pytest.raises(KeyboardInterrupt):
        PlivoHook(max_concurrency=1).upload_media(
            files, ledger=TaskStateUploadLedger(store, media_files(files))
        )
    time.sleep(0.5)
    assert len(posts(sandbox, "/Media")) == 2

    records = PlivoHook(max_concurrency=1).upload_media(
        files, ledger=TaskStateUploadLedger(store, media_files(files))
    )

    # Both chunks that were answered are recorded: the retry sends only the other two, and
    # searches Plivo's list for nothing.
    assert len(posts(sandbox, "/Media")) == 4
    assert sandbox.count_requests("GET", "/Media/") == 0
    assert len(sandbox.media) == 40
    assert [r["file"] for r in records] == files


def test_on_kill_stops_a_send_from_another_thread(plivo_sandbox_factory):
    from airflow_provider_plivo.operators.message import PlivoSendMessageOperator

    sandbox = plivo_sandbox_factory(latency_ms=300)
    operator = PlivoSendMessageOperator(
        task_id="send",
        src=SRC,
        dst=[f"+1415555{n:04d}" for n in range(5000)],
        text="hi",
        hook_params={"max_concurrency": 1},
    )
    when_requests_arrive(sandbox, "/Message", 1, operator.on_kill)

    with pytest.raises(PlivoInterruptedError, match="not sent, the task is stopping"):
        operator.hook.send_message(src=SRC, dst=operator.dst, text="hi")
    time.sleep(0.5)

    assert len(posts(sandbox, "/Message")) == 1  # the one in flight when it was killed
