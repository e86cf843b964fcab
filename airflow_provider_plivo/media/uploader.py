"""Uploading a batch of media files: validation, chunks of at most 10, concurrent requests, the
files Plivo reports as failed inside a 200, one record per file, and the hooks a resumable task
needs (records reused from an earlier try; each finished chunk reported as soon as it is done).

It talks to Plivo through a :class:`~airflow_provider_plivo.transport.client.PlivoClient` only.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_plivo.exceptions import (
    PlivoAuthenticationError,
    PlivoError,
    PlivoMediaFileChangedError,
    PlivoMediaObjectError,
    PlivoMediaUploadError,
    PlivoResponseError,
)
from airflow_provider_plivo.media.multipart import MediaBody
from airflow_provider_plivo.media.rules import media_content_type, validate_media_files
from airflow_provider_plivo.media.sources import first_spellings
from airflow_provider_plivo.progress import count_reasons, counted
from airflow_provider_plivo.transport.core import Request, excerpt, is_transient

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence
    from concurrent.futures import Executor, Future

    from airflow_provider_plivo.media.sources import MediaFile
    from airflow_provider_plivo.progress import Log
    from airflow_provider_plivo.records import MediaRecord
    from airflow_provider_plivo.transport.client import PlivoClient

__all__ = ["MediaUploader"]

T = TypeVar("T")


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
    ) -> list[MediaRecord]:
        """Validate every file, upload those not ``already_uploaded``; one record per input file,
        in input order (a file listed twice is uploaded once). See :meth:`PlivoHook.upload_media`."""
        paths = [file.source for file in media]
        by_source = {file.source: file for file in reversed(media)}
        # One file by any spelling is uploaded once, under the first spelling; each gets its record.
        same = first_spellings(media)
        unique = list(dict.fromkeys(same.values()))
        validate_media_files([by_source[path] for path in unique], max_file_size=self.max_file_size)
        reused = {same[path]: record for path, record in (already_uploaded or {}).items() if path in same}
        records: dict[str, MediaRecord] = {path: reused[path] for path in unique if path in reused}
        pending = [by_source[path] for path in unique if path not in records]
        if records:
            self.log.info(
                "Reusing %d media uploaded by an earlier try; %d files left", len(records), len(pending)
            )
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
                self.log, records, failures, on_chunk_uploaded, chunks=len(chunks), files=len(unique)
            )
            error = self._run_chunks(uploads, progress, stop, workers)
            self.log.info(
                "Uploaded %d of %s in %.1f s with %s%s%s",
                len(records),
                counted(len(unique), "media file"),
                time.monotonic() - started,
                counted(len(retries), "retry", "retries"),
                f" ({count_reasons(retries)})" if retries else "",
                f"; limits at the end: {self.client.limiter.describe()}" if self.client.limiter else "",
            )
            if error is not None:
                raise error
        if failures:
            raise PlivoMediaUploadError(
                failures,
                uploaded=[{**records[same[p]], "file": p} for p in paths if same[p] in records],
                retryable=progress.retryable,
            )
        return [{**records[same[path]], "file": path} for path in paths]

    def _run_chunks(
        self, uploads: Sequence[Callable[[], _ChunkResult]], progress: _Progress, stop: _Stop, workers: int
    ) -> Exception | None:
        """Run the chunk uploads, as many at a time as there is room; hand each finished chunk to
        ``progress`` on this thread; return the first error that ended the upload, if any."""
        from concurrent.futures import ThreadPoolExecutor

        error: Exception | None = None
        submitted: dict[int, Future[_ChunkResult]] = {}
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="plivo-upload") as pool:
            try:
                for n, future in _submitted_as_room_allows(pool, uploads, self._room, submitted):
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
                # before the interrupt goes on, so that a later try does not repeat it.
                self.client.stop()
                stop.set("not sent: the task is stopping")
                pool.shutdown(wait=True, cancel_futures=True)
                self.log.warning(
                    "Stopping: %d of %d chunks had not finished",
                    len(uploads) - len(progress.handled),
                    len(uploads),
                )
                for n, future in submitted.items():
                    if (
                        n not in progress.handled
                        and future.done()
                        and not future.cancelled()
                        and not future.exception()
                    ):
                        progress.take(n, future.result())
                raise
        return error

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


def _submitted_as_room_allows(
    pool: Executor, calls: Sequence[Callable[[], T]], room: Callable[[], int], submitted: dict[int, Future[T]]
) -> Iterator[tuple[int, Future[T]]]:
    """Run ``calls`` in ``pool``; yield (number from 1, future) as each finishes. ``submitted``
    holds every future submitted so far, for a caller that stops early.

    A call is submitted only while fewer than ``room()`` are unfinished: a chunk opens its files
    before its request waits for a place, so a pool of chunks all waiting would hold ten open
    files each, as many as the pool has threads.
    """
    from concurrent.futures import FIRST_COMPLETED, wait

    queued = deque(enumerate(calls, start=1))
    running: dict[Future[T], int] = {}

    def top_up() -> None:
        while queued and len(running) < room():
            n, call = queued.popleft()
            submitted[n] = future = pool.submit(call)
            running[future] = n

    top_up()
    while running:
        finished, _ = wait(running, return_when=FIRST_COMPLETED)
        done = [(running.pop(future), future) for future in finished]
        # The places the finished requests freed are filled before the caller records and logs
        # them: a request waiting behind a log line costs a round trip's worth of idle place.
        top_up()
        yield from done


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
    ) -> None:
        self.log = log
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
