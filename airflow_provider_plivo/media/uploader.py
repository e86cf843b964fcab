"""Uploading a batch of media files: validation, chunks of at most 10, concurrent requests, the
files Plivo reports as failed inside a 200, one record per file, and the hooks a resumable task
needs (records reused from an earlier try; each finished chunk reported as soon as it is done).

It talks to Plivo through a :class:`~airflow_provider_plivo.transport.client.PlivoClient` only.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, Protocol, TypeVar

from airflow_provider_plivo.exceptions import (
    PlivoAuthenticationError,
    PlivoError,
    PlivoMediaFileChangedError,
    PlivoMediaObjectError,
    PlivoMediaUploadError,
    PlivoResponseError,
)
from airflow_provider_plivo.media.multipart import MediaBody
from airflow_provider_plivo.media.reconcile import InDoubt, reconcile_uploads
from airflow_provider_plivo.media.rules import media_content_type, validate_media_files
from airflow_provider_plivo.media.sources import first_spellings
from airflow_provider_plivo.progress import count_reasons, counted
from airflow_provider_plivo.transport.clock import utc_now
from airflow_provider_plivo.transport.core import Request, excerpt, is_transient

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from concurrent.futures import Executor, Future
    from datetime import datetime

    from airflow_provider_plivo.media.sources import MediaFile
    from airflow_provider_plivo.progress import Log
    from airflow_provider_plivo.records import MediaRecord
    from airflow_provider_plivo.transport.client import PlivoClient

__all__ = ["RECORD_INTERVAL", "EarlierUploads", "MediaUploader", "UploadLedger"]

T = TypeVar("T")

RECORD_INTERVAL = 0.25
"""Seconds between two writes of finished chunks' records to an :class:`UploadLedger`: records
of every chunk answered meanwhile go in one write, so the writes follow the upload's duration,
not its number of chunks."""


class EarlierUploads(NamedTuple):
    """What earlier tries of a task did with this batch's files, as an :class:`UploadLedger` kept it."""

    records: dict[str, MediaRecord]
    """Files Plivo stored, unchanged since: reused."""
    in_doubt: list[tuple[str, datetime]]
    """Files (unchanged since) an earlier try was about to upload, with no record that Plivo
    stored them, and when their wave was about to go (worker's clock, UTC)."""


class UploadLedger(Protocol):
    """Where an upload keeps what it did, for a later try of its task (see
    :class:`~airflow_provider_plivo._airflow.upload_ledger.TaskStateUploadLedger`).

    :meth:`intend` and :meth:`record` only queue; :meth:`flush` writes what they queued, as few
    writes as the store's value size allows. Every method is called on the thread that called
    :meth:`MediaUploader.upload` (Airflow's task state store answers its main thread only), and
    never while the upload waits on it except for intent: chunks go on being sent while
    records are written.
    """

    @property
    def writes(self) -> int:
        """Writes made so far."""

    def earlier(self) -> EarlierUploads:
        """What earlier tries did, for the files of this batch."""

    def intend(self, sources: Sequence[str], moment: datetime) -> None:
        """Queue: ``sources`` are about to be uploaded, at ``moment`` (worker's clock, UTC)."""

    def record(self, records: Sequence[MediaRecord]) -> None:
        """Queue: Plivo stored these."""

    def withdraw(self, sources: Sequence[str]) -> None:
        """Queue: ``sources`` were intended but surely never sent (the upload stopped first)."""

    def flush(self) -> None:
        """Write everything queued."""


class MediaUploader:
    """
    Uploads media files through ``client``, ``chunk_size`` per request and as many requests at a
    time as the client's limiter allows, at most ``max_concurrency``.

    :param client: the account to upload to.
    :param chunk_size: files per request, 1 to 10.
    :param max_file_size: largest file accepted, in bytes.
    :param max_concurrency: the most requests in flight at once.
    :param log: where progress and the summary are reported.
    """

    def __init__(
        self,
        client: PlivoClient,
        *,
        chunk_size: int,
        max_file_size: int,
        max_concurrency: int,
        log: Log,
    ) -> None:
        self.client = client
        self.chunk_size = chunk_size
        self.max_file_size = max_file_size
        self.max_concurrency = max_concurrency
        self.log = log

    def upload(
        self,
        media: Sequence[MediaFile],
        *,
        already_uploaded: Mapping[str, MediaRecord] | None = None,
        on_chunk_uploaded: Callable[[list[MediaRecord]], None] | None = None,
        ledger: UploadLedger | None = None,
    ) -> list[MediaRecord]:
        """Validate every file, upload those not ``already_uploaded``; one record per input file,
        in input order (a file listed twice is uploaded once). See :meth:`PlivoHook.upload_media`."""
        paths = [file.source for file in media]
        by_source = {file.source: file for file in reversed(media)}
        # One file by any spelling is uploaded once, under the first spelling; each gets its record.
        same = first_spellings(media)
        unique = list(dict.fromkeys(same.values()))
        validate_media_files([by_source[path] for path in unique], max_file_size=self.max_file_size)
        earlier = ledger.earlier() if ledger is not None else EarlierUploads({}, [])
        reused = {
            same[path]: record
            for path, record in {**(already_uploaded or {}), **earlier.records}.items()
            if path in same
        }
        records: dict[str, MediaRecord] = {path: reused[path] for path in unique if path in reused}
        pending = [by_source[path] for path in unique if path not in records]
        if records:
            self.log.info(
                "Reusing %d media uploaded by an earlier try; %d files left", len(records), len(pending)
            )
        if ledger is not None and (
            in_doubt := [(by_source[s], moment) for s, moment in earlier.in_doubt if s in by_source]
        ):
            found = self._reconcile([(f, m) for f, m in in_doubt if f.source not in records])
            records.update(found)
            ledger.record(list(found.values()))
            pending = [file for file in pending if file.source not in found]
        chunks = [pending[i : i + self.chunk_size] for i in range(0, len(pending), self.chunk_size)]
        failures: dict[str, str] = {}
        if chunks:
            started = time.monotonic()
            retries: list[str] = []
            stop = _Stop()
            workers = min(self.max_concurrency, len(chunks))
            first = min(workers, self._room())
            pace = f"{workers} at a time" if first == workers else f"{first} at a time, then up to {workers}"
            self.log.info(
                "Uploading %s to Plivo in %s",
                counted(len(pending), "media file"),
                "1 request"
                if len(chunks) == 1
                else f"{len(chunks):,} requests of up to {self.chunk_size} files, {pace}",
            )
            uploads = [
                partial(
                    self._upload_chunk,
                    chunk,
                    label=f"upload of chunk {n}/{len(chunks)}",
                    retries=retries,
                    stop=stop,
                )
                for n, chunk in enumerate(chunks, start=1)
            ]
            progress = _Progress(
                self.log,
                records,
                failures,
                on_chunk_uploaded,
                chunks=len(chunks),
                files=len(unique),
                ledger=ledger,
            )
            error = self._run_chunks(
                uploads, chunks=chunks, progress=progress, stop=stop, workers=workers, ledger=ledger
            )
            self.log.info(
                "Uploaded %d of %s in %.1f s with %s%s%s%s",
                len(records),
                counted(len(unique), "media file"),
                time.monotonic() - started,
                counted(len(retries), "retry", "retries"),
                f" ({count_reasons(retries)})" if retries else "",
                f"; recorded in {counted(ledger.writes, 'state-store write')}" if ledger else "",
                f"; limits at the end: {self.client.limiter.describe()}" if self.client.limiter else "",
            )
            if error is not None:
                raise error
        elif ledger is not None:
            ledger.flush()  # what reconciliation found, so that no later try searches again
        if failures:
            raise PlivoMediaUploadError(
                failures,
                uploaded=[{**records[same[p]], "file": p} for p in paths if same[p] in records],
                retryable=progress.retryable,
            )
        return [{**records[same[path]], "file": path} for path in paths]

    def _run_chunks(
        self,
        uploads: Sequence[Callable[[], _ChunkResult]],
        *,
        chunks: Sequence[Sequence[MediaFile]],
        progress: _Progress,
        stop: _Stop,
        workers: int,
        ledger: UploadLedger | None,
    ) -> Exception | None:
        """Run the chunk uploads, as many at a time as there is room; hand each finished chunk to
        ``progress`` on this thread; return the first error that ended the upload, if any.

        The pool's threads start the next chunks themselves as places free up, so this thread
        may spend its time on the ledger (a write to Airflow's task state store is a round trip
        to its API server) without holding a request back: it writes intent for a wave ahead
        before that wave may start, and the records of finished chunks every
        :data:`RECORD_INTERVAL` seconds; what is left is written before this returns or raises.
        """
        from concurrent.futures import ThreadPoolExecutor

        error: Exception | None = None
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="plivo-upload") as pool:
            dispatcher = _Dispatcher(pool, uploads, self._room, cleared=0 if ledger else len(uploads))
            try:
                written = time.monotonic()
                while len(progress.handled) < len(uploads):
                    if (
                        ledger is not None
                        and dispatcher.cleared < len(uploads)
                        and dispatcher.wants_clearance()
                    ):
                        # Intent for the next wave (twice the room ahead), with any records
                        # waiting, in one write: only then may that wave start.
                        wave = range(
                            dispatcher.cleared, min(len(uploads), dispatcher.started + 2 * self._room())
                        )
                        ledger.intend([f.source for n in wave for f in chunks[n]], utc_now())
                        ledger.flush()
                        written = time.monotonic()
                        dispatcher.clear(wave.stop)
                    elif ledger is not None and time.monotonic() - written >= RECORD_INTERVAL:
                        ledger.flush()
                        written = time.monotonic()
                    finished = dispatcher.next_finished(timeout=RECORD_INTERVAL)
                    if finished is None:
                        continue
                    n, future = finished
                    try:
                        result = future.result()
                    except Exception as err:
                        # Every chunk in flight is still recorded before this is raised, so that
                        # no later try uploads it again; no new chunk starts.
                        error = error or err
                        stop.set(f"not sent: {type(err).__name__}: {err}")
                        progress.handled.add(n)
                        continue
                    progress.take(n, result)
            except BaseException:
                # Interrupted (Ctrl-C, SIGTERM, execution_timeout): no chunk starts, the requests
                # in flight finish without retries, and every chunk that finished is handed over
                # and recorded before the interrupt goes on, so that a later try does not repeat it.
                self.client.stop()
                stop.set("not sent: the task is stopping")
                dispatcher.halt()
                pool.shutdown(wait=True, cancel_futures=True)
                self.log.warning(
                    "Stopping: %d of %d chunks had not finished",
                    len(uploads) - len(progress.handled),
                    len(uploads),
                )
                for n, future in dispatcher.submitted.items():
                    if (
                        n not in progress.handled
                        and future.done()
                        and not future.cancelled()
                        and not future.exception()
                    ):
                        progress.take(n, future.result())
                raise
            finally:
                if ledger is not None:
                    # Chunks cleared to go that never started: no later try need search for them.
                    unsent = range(dispatcher.started, dispatcher.cleared)
                    ledger.withdraw([f.source for n in unsent for f in chunks[n]])
                    ledger.flush()
        return error

    def _reconcile(self, in_doubt: Sequence[tuple[MediaFile, datetime]]) -> dict[str, MediaRecord]:
        """Records of the files of ``in_doubt`` Plivo's media list proves stored (see
        :mod:`~airflow_provider_plivo.media.reconcile`); the others are uploaded again."""
        if not in_doubt:
            return {}
        objects = self.client.run(
            reconcile_uploads(
                [InDoubt(f.source, f.name, f.info().size, moment) for f, moment in in_doubt], self.log
            )
        )
        by_source = {f.source: f for f, _ in in_doubt}
        found = {s: media_record(s, obj, file_name=by_source[s].name) for s, obj in objects.items()}
        if missing := len(in_doubt) - len(found):
            # Media is free to duplicate (an unused copy expires after 6 hours), unlike messages:
            # a file possibly stored twice is better than a task failing or a file missing.
            self.log.warning(
                "An earlier try was stopped while uploading %s: Plivo's media list shows %d of them "
                "stored, which are reused; could not prove %s were not stored; uploading them again "
                "(media may duplicate: an unused copy expires after 6 hours)",
                counted(len(in_doubt), "file"),
                len(found),
                counted(missing, "file"),
            )
        else:
            self.log.info(
                "An earlier try was stopped while uploading %s: Plivo's media list shows every one "
                "stored; they are reused",
                counted(len(in_doubt), "file"),
            )
        return found

    def _room(self) -> int:
        """Chunks that may be under way now: as many as the client's limiter lets requests fly."""
        limiter = self.client.limiter
        return min(self.max_concurrency, limiter.concurrency) if limiter else self.max_concurrency

    def _upload_chunk(
        self, chunk: list[MediaFile], *, label: str, retries: list[str], stop: _Stop
    ) -> _ChunkResult:
        """Upload one chunk, retrying only its files still missing.

        Once ``stop`` is set (Plivo refused the credentials, or another chunk failed in a way
        that ends the upload), the chunk is not sent.
        """
        uploaded: dict[str, MediaRecord] = {}
        if stop.reason is not None:
            return _ChunkResult(
                uploaded, dict.fromkeys((f.source for f in chunk), stop.reason), retryable=False
            )

        changed: dict[str, str] = {}

        def attempt() -> None:
            while True:
                remaining = [
                    file for file in chunk if file.source not in uploaded and file.source not in changed
                ]
                if not remaining:
                    return
                try:
                    objects = self._post_media(remaining)
                    break
                except PlivoMediaFileChangedError as err:
                    # The request was cut before its body ended, so Plivo stored nothing of it:
                    # the file is reported by name and the rest of the chunk goes again at once.
                    self.log.warning("%s; sending the other files of %s without it", err, label)
                    changed[err.source] = err.reason
            failed: dict[str, str] = {}
            for file, obj in _paired(remaining, objects):
                if obj.get("status", "success") == "success" and obj.get("media_id"):
                    uploaded[file.source] = media_record(file.source, obj, file_name=file.name)
                else:
                    failed[file.source] = _object_failure(obj)
            if failed:
                raise PlivoMediaObjectError(failed)

        try:
            self.client.retrying(attempt, what=label, retries=retries)
        except PlivoAuthenticationError as err:
            stop.set(f"not sent: Plivo refused the credentials ({err.message})")
            raise
        except PlivoMediaObjectError as err:
            return _ChunkResult(uploaded, {**changed, **err.failures}, retryable=True)
        except PlivoError as err:
            missing = {
                f.source: str(err) for f in chunk if f.source not in uploaded and f.source not in changed
            }
            return _ChunkResult(uploaded, {**changed, **missing}, retryable=is_transient(err))
        return _ChunkResult(uploaded, changed, retryable=False)

    def _post_media(self, files: list[MediaFile]) -> list[dict[str, Any]]:
        """One upload attempt for ``files`` (no retry); return Plivo's objects, one per file.

        The body is streamed from the files with a Content-Length, so memory does not grow with
        file size times concurrency; each file is opened only as its part is sent (once the
        request has its place) and closed at its part's end, or when the request fails.
        """
        body = MediaBody(files)
        try:
            answer = self.client.request(
                Request("POST", "Media/", data=body, headers={"Content-Type": body.content_type})
            )
        finally:
            body.close()
        objects = answer.get("objects")
        if not isinstance(objects, list) or len(objects) != len(files):
            count = len(objects) if isinstance(objects, list) else "no"
            raise PlivoResponseError(
                f"Plivo answered an upload of {len(files)} files with {count} media objects: "
                f"{excerpt(json.dumps(answer))}"
            )
        return objects


def _paired(files: list[MediaFile], objects: list[Any]) -> list[tuple[MediaFile, dict[str, Any]]]:
    """Each file sent with the media object Plivo answered for it.

    Plivo answers in the order the parts went (no document says otherwise), but an object that
    names its ``file_name`` is paired by that name: an answer in another order must not give
    ``a.jpg`` the media ID of ``b.jpg``. An object without a name takes its place in the order.

    :raises PlivoResponseError: (not retryable: no retry can fix a server that mispairs) an
        object names a file not sent, two objects name one file, or names sent twice in the
        chunk come back in another order; nothing of the chunk is then recorded.
    """
    sent = [file.name for file in files]
    names = [obj.get("file_name") if isinstance(obj, dict) else None for obj in objects]
    if not all(isinstance(obj, dict) for obj in objects):
        raise PlivoResponseError(
            f"Plivo answered an upload with media objects that are not objects: {objects!r:.200}"
        )
    if all(name in (None, "", sent[n]) for n, name in enumerate(names)):
        return list(zip(files, objects, strict=True))
    unknown = sorted({str(name) for name in names if name and name not in sent})
    twice = sorted({str(name) for name in names if name and names.count(name) > 1})
    ambiguous = sorted({name for name in sent if sent.count(name) > 1})
    if unknown or twice or ambiguous:
        problems = [
            *(f"{name!r} was not sent" for name in unknown),
            *(f"{name!r} is named by more than one object" for name in twice),
            *(f"{name!r} was sent more than once, and the answer's order differs" for name in ambiguous),
        ]
        raise PlivoResponseError(
            "Plivo's answer to an upload of " + ", ".join(f.source for f in files) + " cannot be paired "
            "with the files sent (" + "; ".join(problems) + "): none of them is recorded as uploaded",
            retryable=False,
        )
    by_name = {name: obj for name, obj in zip(names, objects, strict=True) if name}
    unnamed = iter(obj for name, obj in zip(names, objects, strict=True) if not name)
    return [(file, by_name[file.name] if file.name in by_name else next(unnamed)) for file in files]


class _Dispatcher(Generic[T]):
    """Runs ``calls`` in ``pool`` as room allows, and as far as they are cleared to go; the
    thread of a call that finishes starts the next, so no call waits for the caller's thread.

    A call starts only while fewer than ``room()`` are unfinished: a chunk started is a chunk
    the next try may have to look for, so none starts that could only wait for the limiter's
    place. And only once :meth:`clear` let it: the caller records the intent of a wave before
    any of it goes.
    """

    def __init__(
        self, pool: Executor, calls: Sequence[Callable[[], T]], room: Callable[[], int], *, cleared: int
    ) -> None:
        self._pool = pool
        self._room = room
        # Reentrant: a future already done runs its callback at once, in the submitting thread.
        self._lock = threading.RLock()
        self._queued = deque(enumerate(calls, start=1))
        self._running: set[int] = set()
        self._finished: queue.SimpleQueue[tuple[int, Future[T]]] = queue.SimpleQueue()
        self._halted = False
        self.cleared = cleared
        """How many calls (in order) may start."""
        self.submitted: dict[int, Future[T]] = {}
        """Every call started so far (number from 1 -> future), for a caller that stops early."""
        self.clear(cleared)

    @property
    def started(self) -> int:
        return len(self.submitted)

    def wants_clearance(self) -> bool:
        """Whether fewer than a room's worth of calls are cleared and not started."""
        return self.cleared - self.started < self._room()

    def clear(self, count: int) -> None:
        """Let the first ``count`` calls start."""
        with self._lock:
            self.cleared = max(self.cleared, count)
            self._top_up()

    def halt(self) -> None:
        """Start no more calls."""
        with self._lock:
            self._halted = True

    def next_finished(self, timeout: float) -> tuple[int, Future[T]] | None:
        """(number from 1, future) of the next call to finish, or None after ``timeout`` seconds."""
        try:
            return self._finished.get(timeout=timeout)
        except queue.Empty:
            return None

    def _top_up(self) -> None:
        while (
            not self._halted
            and self._queued
            and self._queued[0][0] <= self.cleared
            and len(self._running) < self._room()
        ):
            n, call = self._queued.popleft()
            self._running.add(n)
            self.submitted[n] = future = self._pool.submit(call)
            future.add_done_callback(lambda done, n=n: self._done(n, done))  # type: ignore[misc]

    def _done(self, n: int, future: Future[T]) -> None:
        try:
            with self._lock:
                self._running.discard(n)
                # The place is filled before the caller hears of the finished call: a request
                # waiting behind a log line or a ledger write costs a round trip's worth of idle
                # place.
                self._top_up()
        finally:
            # Told whatever happened here (the pool refused a new call?): the caller waits for it.
            self._finished.put((n, future))


@dataclass(frozen=True)
class _ChunkResult:
    uploaded: dict[str, MediaRecord]
    failures: dict[str, str]
    """File -> why it was not uploaded."""
    retryable: bool
    """Whether a later try may upload the failed files (the failures were transient)."""


class _Progress:
    """What an upload has done so far, told each finished chunk on the calling thread."""

    def __init__(
        self,
        log: Log,
        records: dict[str, MediaRecord],
        failures: dict[str, str],
        on_chunk_uploaded: Callable[[list[MediaRecord]], None] | None,
        *,
        chunks: int,
        files: int,
        ledger: UploadLedger | None = None,
    ) -> None:
        self.log = log
        self.ledger = ledger
        self.records = records
        self.failures = failures
        self.on_chunk_uploaded = on_chunk_uploaded
        self.chunks = chunks
        self.files = files
        self.retryable = False
        """Whether a later try may upload the failed files (some failures were transient)."""
        self.handled: set[int] = set()

    def take(self, n: int, result: _ChunkResult) -> None:
        self.handled.add(n)
        self.records.update(result.uploaded)
        self.failures.update(result.failures)
        self.retryable = self.retryable or result.retryable
        if result.uploaded and self.ledger is not None:
            self.ledger.record(list(result.uploaded.values()))
        if result.uploaded and self.on_chunk_uploaded is not None:
            self.on_chunk_uploaded(list(result.uploaded.values()))
        self.log.info(
            "Chunk %d/%d done (%d of %d): %s uploaded%s; %d/%d files done",
            n,
            self.chunks,
            len(self.handled),
            self.chunks,
            counted(len(result.uploaded), "file"),
            f", {len(result.failures)} failed" if result.failures else "",
            len(self.records),
            self.files,
        )


class _Stop:
    """Set once by the first chunk whose failure ends the whole upload; later chunks read why."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reason: str | None = None

    def set(self, reason: str) -> None:
        with self._lock:
            self.reason = self.reason or reason


def media_record(file: str, obj: Mapping[str, Any], *, file_name: str | None = None) -> MediaRecord:
    """Our record of one media object Plivo returned (``media_url`` whether Plivo said ``media_url``
    or ``url``)."""
    name = obj.get("file_name") or file_name or ""
    return {
        "file": file,
        "media_id": obj["media_id"],
        "media_url": obj.get("media_url") or obj.get("url"),
        "content_type": obj.get("content_type") or media_content_type(name),
        "size": obj.get("size"),
        "upload_time": obj.get("upload_time"),
        "file_name": name,
    }


def _object_failure(obj: Mapping[str, Any]) -> str:
    message = obj.get("error_message") or obj.get("error") or "no reason given"
    code = obj.get("error_code") or obj.get("status_code")
    return (
        f"Plivo reported status {obj.get('status')!r}" + (f" (code {code})" if code else "") + f": {message}"
    )
