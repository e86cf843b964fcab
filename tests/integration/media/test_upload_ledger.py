"""An upload's ledger (the task state store's, in a task) against the sandbox: its writes stay
off the critical path and few, and a try killed mid-upload is reconciled with Plivo's media list."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_plivo._airflow.upload_ledger import PART_BUDGET, TaskStateUploadLedger
from airflow_provider_plivo.hooks.plivo import PlivoHook
from airflow_provider_plivo.media.sources import media_files
from airflow_provider_plivo.media.uploader import RECORD_INTERVAL
from airflow_provider_plivo.transport.clock import RECONCILE_MARGIN
from tests.support.stores import MemoryStore

if TYPE_CHECKING:
    from airflow_provider_plivo.sandbox import PlivoSandbox


class SlowStore(MemoryStore):
    """The task state store in memory, as slow as a write through Airflow's API server
    (``write_seconds`` each); counts the uploads the sandbox received while writes were under way."""

    def __init__(self, sandbox: PlivoSandbox | None = None, *, write_seconds: float = 0.0) -> None:
        super().__init__()
        self.sandbox = sandbox
        self.write_seconds = write_seconds
        self.uploads_during_writes = 0

    def set(self, key: str, value: Any, *, retention: timedelta) -> None:
        before = self._uploads()
        time.sleep(self.write_seconds)
        self.uploads_during_writes += self._uploads() - before
        super().set(key, value, retention=retention)

    def _uploads(self) -> int:
        return self.sandbox.count_requests("POST", "/Media/") if self.sandbox else 0


def upload(paths: list[str], store: SlowStore, **hook: Any) -> list[Any]:
    ledger = TaskStateUploadLedger(store, media_files(paths))
    return PlivoHook(**hook).upload_media(paths, ledger=ledger)


def intents(store: SlowStore) -> int:
    return sum("intent" in entry for part in store.values.values() for entry in part["entries"])


def assert_writes_follow_the_duration(store: SlowStore, elapsed: float) -> None:
    """The intent of each wave, then records every quarter second, and the last ones: the count
    follows the upload's duration (longer on a loaded machine) and the parts the value size limit
    needs, never the chunks."""
    flushes = intents(store) + elapsed / RECORD_INTERVAL + 1
    size_parts = sum(len(json.dumps(part)) for part in store.values.values()) / PART_BUDGET
    assert store.writes <= flushes + size_parts, (store.writes, intents(store), elapsed, size_parts)


def test_uploads_go_on_while_100_ms_writes_record_them_in_a_few_coalesced_writes(
    plivo_sandbox_factory, make_media, capfd, report_figure
):
    sandbox = plivo_sandbox_factory(latency_ms=200)
    files = make_media(300)  # 30 chunks, 5 at a time: 6 waves
    store = SlowStore(sandbox, write_seconds=0.1)

    started = time.monotonic()
    records = upload(files, store, max_concurrency=5)
    elapsed = time.monotonic() - started

    chunks = 30
    report_figure(
        f"300 files, 30 chunks, 5 at a time, 200 ms latency, 100 ms a state-store write: {elapsed:.1f} s, "
        f"{store.writes} writes, {store.uploads_during_writes} uploads sent during writes"
    )
    assert len(sandbox.media) == 300
    assert [r["file"] for r in records] == files
    # Two writes per chunk on the main thread, as before, cost at least chunks x 200 ms alone.
    assert elapsed < chunks * 0.2
    assert intents(store) <= 7
    assert_writes_follow_the_duration(store, elapsed)
    assert store.uploads_during_writes > 0
    assert f"recorded in {store.writes} state-store writes" in capfd.readouterr().out
    # Every file is recorded: a later try uploads nothing.
    again = upload(files, store)
    assert sandbox.count_requests("POST", "/Media/") == chunks
    assert [r["media_id"] for r in again] == [r["media_id"] for r in records]


def test_writes_do_not_grow_with_the_chunks_of_one_wave(plivo_sandbox, make_media):
    store = SlowStore()

    started = time.monotonic()
    upload(make_media(500), store, max_concurrency=50)  # 50 chunks, two waves at most
    elapsed = time.monotonic() - started

    assert intents(store) <= 3
    assert_writes_follow_the_duration(store, elapsed)


def kill_after_intent(store: SlowStore, paths: list[str], moment: datetime) -> None:
    """What a try SIGKILLed with ``paths`` in flight leaves in the store: their intent, no record."""
    ledger = TaskStateUploadLedger(store, media_files(paths))
    ledger.intend(paths, moment)
    ledger.flush()


def test_a_killed_try_s_stored_files_are_found_and_reused_and_the_rest_uploaded_again(
    plivo_sandbox, make_media, capfd
):
    files = make_media(20)
    store = SlowStore()
    kill_after_intent(store, files, datetime.now(timezone.utc))
    # Plivo stored the first 12 (their answers never reached the killed try).
    stored = PlivoHook().upload_media(files[:12])

    records = upload(files, store)

    assert len(plivo_sandbox.media) == 20
    assert [r["media_id"] for r in records[:12]] == [r["media_id"] for r in stored]
    assert [r["file"] for r in records] == files
    out = capfd.readouterr().out
    assert "Plivo's media list shows 12 of them stored" in out
    assert "could not prove 8 files were not stored; uploading them again" in out
    # Reconciled once: a third try reuses everything without reading the list.
    listed = plivo_sandbox.count_requests("GET", "/Media/")
    upload(files, store)
    assert plivo_sandbox.count_requests("GET", "/Media/") == listed
    assert len(plivo_sandbox.media) == 20


def test_files_stored_before_the_intent_are_not_taken_for_the_killed_try_s(plivo_sandbox, make_media):
    files = make_media(3)
    PlivoHook().upload_media(files)  # an earlier batch with the same names and sizes
    store = SlowStore()
    # Beyond the reconciliation's margin and the Date header's whole second.
    time.sleep((RECONCILE_MARGIN + timedelta(seconds=2)).total_seconds())
    kill_after_intent(store, files, datetime.now(timezone.utc))

    upload(files, store)

    assert len(plivo_sandbox.media) == 6


def test_two_files_in_doubt_alike_in_name_and_size_are_both_uploaded_again(
    plivo_sandbox, make_media, tmp_path, capfd
):
    files = make_media(1, folder=tmp_path / "a") + make_media(1, folder=tmp_path / "b")
    store = SlowStore()
    kill_after_intent(store, files, datetime.now(timezone.utc))
    PlivoHook().upload_media(files[:1])

    upload(files, store)

    assert len(plivo_sandbox.media) == 3
    assert "could not prove 2 files were not stored" in capfd.readouterr().out


def test_a_file_changed_since_its_intent_is_uploaded_without_searching(plivo_sandbox, make_media):
    files = make_media(2)
    store = SlowStore()
    kill_after_intent(store, files, datetime.now(timezone.utc))
    with open(files[0], "ab") as changed:
        changed.write(b"more")

    upload(files[:1], store)

    assert plivo_sandbox.count_requests("GET", "/Media/") == 0
    assert len(plivo_sandbox.media) == 1


def test_records_an_earlier_version_wrote_are_reused(plivo_sandbox, make_media):
    files = make_media(3)
    first = PlivoHook().upload_media(files[:2])
    store = SlowStore()
    # Before intents: one list of records per chunk, and a counter.
    fingerprints = [f.info().fingerprint for f in media_files(files[:2])]
    store.values = {
        "plivo_media_chunks": 1,
        "plivo_media_chunk_1": [
            {"fingerprint": fp, "record": dict(r)} for fp, r in zip(fingerprints, first, strict=True)
        ],
    }

    records = upload(files, store)

    assert [r["media_id"] for r in records[:2]] == [r["media_id"] for r in first]
    assert len(plivo_sandbox.media) == 3
