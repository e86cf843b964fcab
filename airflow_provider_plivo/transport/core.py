"""The sans-I/O core of the client: what a request is, how an answer is read, when to retry, how
pages are walked, and how a call of several requests (a plan) is written once for both drivers.

Nothing here touches a socket or a clock of its own. :class:`~.client.PlivoClient` (requests, for
workers) and :class:`~.async_client.AsyncPlivoClient` (httpx, for the triggerer) only move bytes
and run plans; every behaviour lives here or in the plans of :mod:`airflow_provider_plivo.messages`,
so it holds on both sides and its tests need no server.

A **plan** is a generator that yields a :class:`Request` (and is sent Plivo's JSON answer, or has
the request's :class:`~airflow_provider_plivo.exceptions.PlivoError` thrown into it) or a
:class:`Concurrent` batch (and is sent one outcome per request, answers and errors alike), and
returns its result. The drivers run it with :class:`PlanSteps`.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from airflow_provider_plivo import __version__
from airflow_provider_plivo.exceptions import (
    PlivoAPIError,
    PlivoAuthenticationError,
    PlivoConnectionError,
    PlivoError,
    PlivoInterruptedError,
    PlivoMediaObjectError,
    PlivoResponseError,
    PlivoRetryableAPIError,
    PlivoTLSError,
    PlivoTransientError,
)

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager, AbstractContextManager

    from airflow_provider_plivo.progress import Log
    from airflow_provider_plivo.transport.account import PlivoAccount

__all__ = [
    "ACCEPT_ENCODING",
    "ANSWER_READ_SIZE",
    "MAX_ANSWER_BYTES",
    "RETRY_AFTER_MAX",
    "UPLOAD_BLOCK_SIZE",
    "USER_AGENT",
    "AnswerReader",
    "BatchOutcomes",
    "ClientBase",
    "Concurrent",
    "Limits",
    "Outcome",
    "Pages",
    "Plan",
    "PlanSteps",
    "Request",
    "RetryPolicy",
    "Settling",
    "connection_failed",
    "excerpt",
    "is_certificate_error",
    "is_transient",
    "not_sent",
    "paged",
    "parse_response",
    "path_id",
    "retry_after_seconds",
    "retry_reason",
    "scrub",
    "send_is_safe_to_retry",
    "tell",
]

T = TypeVar("T")

USER_AGENT = f"airflow-provider-plivo/{__version__}"

RETRY_AFTER_MAX = 300.0
"""The longest ``Retry-After`` honoured, in seconds, so that the worst case of a call stays bounded."""

UPLOAD_BLOCK_SIZE = 256 * 1024
"""Bytes sent per socket write of a streamed upload. urllib3's default of 16 KiB made 2 MB
files upload slower than the SDK's in-memory bodies; 256 KiB costs 2.5 MiB at 10 in flight."""

MAX_ANSWER_BYTES = 8 * 1024 * 1024
"""The most bytes of one answer read, decoded: Plivo's largest answers (a page of 20 messages, an
upload of 10 files) are a few KB, and an answer of a server gone wrong (or a gzip bomb: 292 KB
that decode to 300 MB) must not take the worker's memory with it."""

ACCEPT_ENCODING = "gzip, deflate"
"""The encodings both drivers ask for, and :class:`AnswerReader` decodes (a bounded decode,
which neither HTTP library's own decoder is)."""

ANSWER_READ_SIZE = 64 * 1024
"""Bytes taken from the connection, and decoded, at a time."""

_BODY_EXCERPT_CHARS = 200


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: the same request may well succeed later (a transient kind of error that
    does not say otherwise of itself)."""
    return isinstance(exc, PlivoTransientError) and getattr(exc, "retryable", True) is not False


def send_is_safe_to_retry(exc: BaseException) -> bool:
    """True only where Plivo surely did not act on a request: no connection, or 429/503."""
    if isinstance(exc, PlivoConnectionError):
        return not exc.request_sent
    return isinstance(exc, PlivoRetryableAPIError) and exc.status_code in (429, 503)


@dataclass(frozen=True)
class Request:
    """One call to ``/v1/Account/{auth_id}/{path}``, retried while ``should_retry`` says so."""

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    data: Any = None
    """A body other than JSON: the upload's streamed multipart form."""
    headers: Mapping[str, str] | None = None
    should_retry: Callable[[BaseException], bool] = is_transient
    timeout: float | None = None
    """Seconds one attempt may take; the connection's ``timeout`` when None."""
    waits_for_room: bool = True
    """False for a request that can be done without: where its endpoint's own budget (the
    message list's) has no room now, the limiter refuses it at once, unsent, instead of waiting
    (a poll's list page, which single reads replace)."""
    on_headers: Callable[[Mapping[str, str]], None] | None = field(default=None, compare=False)
    """Told the headers of each answer Plivo gives (e.g. its ``Date``: Plivo's own clock), by
    either driver, before the body is read."""

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def kind(self) -> str:
        """What the request does, whatever it names: ``POST Media``, ``GET Message``. Round trips
        are compared within a kind only, as an upload of ten files is rightly slower than a read."""
        return f"{self.method.upper()} {self.path.strip('/').split('/')[0]}"

    @property
    def message_list(self) -> bool:
        """Whether this is a request to Plivo's message list (``GET Message/``, not
        ``Message/{uuid}/`` nor ``Message/{uuid}/Media/``), which has a limit of its own besides
        the account's (20 per minute): the one place that decides it."""
        return self.method.upper() == "GET" and self.path.strip("/") == "Message"


Outcome = dict[str, Any] | PlivoError
"""What one request of a :class:`Concurrent` batch came to: Plivo's JSON answer, or the error."""


@dataclass(frozen=True)
class Concurrent:
    """Requests that may be under way together (as many at a time as the limiter allows).

    ``on_outcome(index, outcome)`` hears of each as it finishes, on the thread (or task) that
    runs the plan, so that it may record or log it at once; the plan is then sent every outcome,
    in the order of ``requests``.
    """

    requests: Sequence[Request]
    on_outcome: Callable[[int, Outcome], None] | None = field(default=None, compare=False)


Plan = Generator[Request | Concurrent, Any, T]


class BatchOutcomes:
    """A :class:`Concurrent` batch's outcomes as a driver gathers them, each told to its
    ``on_outcome`` as it comes; interrupted, the driver stops new requests, lets those in flight
    finish, then :meth:`tell_the_rest`, so that the caller records what Plivo did and what it
    surely did not before the interrupt goes on. Either driver, the same rules."""

    def __init__(self, batch: Concurrent) -> None:
        self.batch = batch
        self.outcomes: list[Outcome] = [{} for _ in batch.requests]
        self._told: set[int] = set()

    def tell(self, n: int, outcome: Outcome) -> None:
        self.outcomes[n] = outcome
        if self.batch.on_outcome is not None:
            self.batch.on_outcome(n, outcome)
        # Only once told: an interrupt while the caller records it (a send's ledger writes) has
        # it told again by tell_the_rest, not lost.
        self._told.add(n)

    def stopping(self, log: Log) -> None:
        left = len(self.outcomes) - len(self._told)
        log.warning("Stopping: %d of %d requests had not finished", left, len(self.outcomes))

    def tell_the_rest(self, futures: Sequence[Settling]) -> None:
        """Tell every outcome not yet told, from its request's future (a thread's or a task's, in
        the order of the requests): its result, or, for a request that never went out (its
        future cancelled or never run), that it was not sent."""
        for n, (request, future) in enumerate(zip(self.batch.requests, futures, strict=True)):
            if n not in self._told:
                settled = future.done() and not future.cancelled()
                self.tell(n, future.result() if settled else not_sent(request))


class Settling(Protocol):
    """A request's future as either driver holds it: a worker thread's or an asyncio task's."""

    def done(self) -> bool: ...

    def cancelled(self) -> bool: ...

    def result(self) -> Outcome: ...


class PlanSteps:
    """Runs a :data:`Plan` one step at a time for a driver: :meth:`start`, then :meth:`reply`
    with each step's outcome until :attr:`done`; :attr:`result` is what the plan returned."""

    def __init__(self, plan: Plan[T]) -> None:
        self._plan = plan
        self.done = False
        self.result: Any = None

    def start(self) -> Request | Concurrent | None:
        return self._step(lambda: next(self._plan))

    def reply(self, outcome: Outcome | list[Outcome]) -> Request | Concurrent | None:
        """Give the plan its last step's outcome (an error is raised inside the plan)."""
        if isinstance(outcome, PlivoError):
            error = outcome
            return self._step(lambda: self._plan.throw(error))
        return self._step(lambda: self._plan.send(outcome))

    def _step(self, advance: Callable[[], Request | Concurrent]) -> Request | Concurrent | None:
        try:
            return advance()
        except StopIteration as stop:
            self.done, self.result = True, stop.value
            return None


class Pages:
    """A cursor over one of Plivo's paged lists (``GET Media/``, ``GET Message/``...).

    Finished at the last page (``meta.next`` empty), at an empty page, once ``meta.total_count``
    objects came, or at a page that brings no object not seen before: never loops forever on a
    server that keeps offering a next page or ignores ``offset``.
    """

    def __init__(self, path: str, params: Mapping[str, Any], *, page_size: int) -> None:
        self.path = path
        self.params = dict(params)
        self.page_size = page_size
        self.offset = 0
        self.finished = False
        self._seen: set[str] = set()

    def request(self) -> Request:
        return Request(
            "GET", self.path, params={**self.params, "limit": self.page_size, "offset": self.offset}
        )

    def take(self, page: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The page's new objects; sets :attr:`finished` when no page should follow."""
        objects = [obj for obj in page.get("objects") or [] if isinstance(obj, dict)]
        meta = page.get("meta")
        meta = meta if isinstance(meta, dict) else {}
        new = [obj for obj in objects if _identity(obj) not in self._seen]
        self._seen.update(map(_identity, new))
        self.offset += len(objects)
        total = meta.get("total_count")
        self.finished = (
            not new
            or not meta.get("next")
            or (isinstance(total, int) and not isinstance(total, bool) and self.offset >= total)
        )
        return new


def _identity(obj: Mapping[str, Any]) -> str:
    for key in ("message_uuid", "media_id", "resource_uri"):
        if obj.get(key):
            return f"{key}:{obj[key]}"
    return json.dumps(obj, sort_keys=True, default=str)


_PATH_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def path_id(value: object, what: str) -> str:
    """``value`` if it can stand as one URL path segment; a clear error before any request if not
    (an empty or path-like ID would call another endpoint)."""
    if not isinstance(value, str) or not _PATH_ID.fullmatch(value):
        raise PlivoError(f"{value!r} is not a Plivo {what}")
    return value


def paged(path: str, params: Mapping[str, Any], *, page_size: int) -> Plan[list[dict[str, Any]]]:
    """Every object of a paged list, walking its pages."""
    pages = Pages(path, params, page_size=page_size)
    objects: list[dict[str, Any]] = []
    while not pages.finished:
        objects.extend(pages.take((yield pages.request())))
    return objects


class Slot(Protocol):
    """One request's place with the limiter, told how Plivo answered."""

    def answered(self, status: int, retry_after: float | None = None) -> None: ...


class Limits(Protocol):
    """What the drivers need of a limiter: a place per request, for threads and coroutines (the
    request says which budgets it takes from: :attr:`Request.message_list`)."""

    @property
    def concurrency(self) -> int: ...

    def slot(self, request: Request) -> AbstractContextManager[Slot]: ...

    def aslot(self, request: Request) -> AbstractAsyncContextManager[Slot]: ...

    def describe(self) -> str: ...


def tell(slot: Slot | None, status: int, headers: Mapping[str, str]) -> None:
    """Tell the limiter's ``slot`` (if any) how Plivo answered, so that it can adapt."""
    if slot is not None:
        slot.answered(status, retry_after_seconds(headers.get("Retry-After")))


_BASIC_CREDENTIALS = re.compile(r"(?i)\bbasic\s+[A-Za-z0-9+/=_-]{6,}")


def scrub(text: str, secrets: Sequence[str] = ()) -> str:
    """``text`` with every ``secret`` and any ``Basic ...`` credentials blanked out: a proxy or
    gateway may echo the request's headers in its error page, and error texts reach logs."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _BASIC_CREDENTIALS.sub("Basic ***", text)


class AnswerReader:
    """An answer's body as it arrives, decoded here (``Content-Encoding`` gzip or deflate) at most
    :data:`ANSWER_READ_SIZE` at a time, and at most ``limit`` bytes in all: both drivers hand it
    the raw bytes, so that memory stays bounded by the limit whatever the body decodes to.

    :raises PlivoResponseError: (not retryable: the same answer would come again) the body is
        larger than ``limit``, or in an encoding not asked for, or not valid in its own.
    """

    def __init__(self, endpoint: str, content_encoding: str | None, *, limit: int = MAX_ANSWER_BYTES) -> None:
        import zlib

        self.endpoint = endpoint
        self.limit = limit
        self._parts: list[bytes] = []
        self._size = 0
        encoding = (content_encoding or "identity").strip().lower()
        if encoding not in ("identity", "gzip", "x-gzip", "deflate"):
            raise PlivoResponseError(
                f"{endpoint}: Plivo answered in the encoding {encoding!r}, which was not asked for",
                retryable=False,
            )
        # 32 + MAX_WBITS reads a gzip or zlib header alike; a raw deflate stream (some servers'
        # "deflate") is tried when that fails on the first bytes.
        self._raw_deflate = encoding == "deflate"
        self._decoder = None if encoding == "identity" else zlib.decompressobj(32 + zlib.MAX_WBITS)
        self._started = False

    def feed(self, data: bytes) -> None:
        """Take the next raw bytes of the body."""
        import zlib

        if self._decoder is None:
            self._take(data)
            return
        try:
            while data:
                piece = self._decoder.decompress(data, ANSWER_READ_SIZE)
                self._started = True
                self._take(piece)
                data = self._decoder.unconsumed_tail
        except zlib.error as err:
            if self._raw_deflate and not self._started:
                self._raw_deflate = False
                self._decoder = zlib.decompressobj(-zlib.MAX_WBITS)
                self.feed(data)
                return
            raise PlivoResponseError(f"{self.endpoint}: Plivo's answer could not be decoded ({err})") from err

    def body(self) -> bytes:
        """The whole decoded body, once every raw byte was fed."""
        if self._decoder is not None:
            self._take(self._decoder.flush())
        return b"".join(self._parts)

    def _take(self, piece: bytes) -> None:
        self._size += len(piece)
        if self._size > self.limit:
            self._parts.clear()
            raise PlivoResponseError(
                f"{self.endpoint}: Plivo's answer is larger than {self.limit:,} bytes (decoded), "
                "more than any answer of its API; it was not read further",
                retryable=False,
            )
        self._parts.append(piece)


def parse_response(
    *,
    status: int,
    reason: str | None,
    headers: Mapping[str, str],
    text: str,
    endpoint: str,
    secrets: Sequence[str] = (),
) -> dict[str, Any]:
    r"""Plivo's JSON body, or the classified error its status and body describe (every text taken
    from the body :func:`scrub`\ bed of ``secrets``)."""
    if status == 204:
        return {}  # No Content (DELETE Message/{uuid}/Media/): success with nothing to say
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if status >= 400:
        error = body.get("error") if isinstance(body, dict) else None
        if error:
            message = scrub(error if isinstance(error, str) else json.dumps(error), secrets)
        elif text:
            message = f"{reason or 'error'}: {excerpt(scrub(text, secrets))}"
        else:
            message = reason or "no message"
        details: dict[str, Any] = {
            "status_code": status,
            "message": message,
            "endpoint": endpoint,
            "api_id": body.get("api_id") if isinstance(body, dict) else None,
        }
        if status in (401, 403):
            raise PlivoAuthenticationError(**details)
        if status == 429 or status >= 500:
            raise PlivoRetryableAPIError(
                **details, retry_after=retry_after_seconds(headers.get("Retry-After"))
            )
        raise PlivoAPIError(**details)
    if not isinstance(body, dict):
        raise PlivoResponseError(
            f"{endpoint}: Plivo answered HTTP {status} with a body that is not its JSON: "
            f"{excerpt(scrub(text, secrets))!r}"
        )
    return body


def retry_after_seconds(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds or an HTTP date), at most
    :data:`RETRY_AFTER_MAX`; None when Plivo sent none (or none that can be read)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - now()
        except (TypeError, ValueError):
            return None
    return min(max(0.0, seconds), RETRY_AFTER_MAX)


def not_sent(request: Request) -> PlivoInterruptedError:
    """The outcome of a request that never went out because its task is stopping."""
    return PlivoInterruptedError(f"{request.endpoint}: not sent, the task is stopping")


def is_certificate_error(err: BaseException) -> bool:
    """Whether ``err`` (an HTTP library's error) comes from a certificate that failed verification,
    wherever the library put the ``ssl`` error: its cause, its context or its arguments."""
    import ssl

    seen: set[int] = set()
    todo: list[object] = [err]
    while todo:
        item = todo.pop()
        if id(item) in seen or not isinstance(item, BaseException):
            continue
        seen.add(id(item))
        if isinstance(item, ssl.SSLCertVerificationError):
            return True
        todo.extend([item.__cause__, item.__context__, *item.args, getattr(item, "reason", None)])
    return False


def connection_failed(
    endpoint: str, base_url: str, timeout: float, *, stage: str, detail: object = None
) -> PlivoConnectionError:
    """The error for a request that did not complete, worded once for both drivers.

    ``stage``: ``connect-timeout`` and ``connect`` (the request never reached Plivo: safe to
    send again), ``pool-timeout`` (no free connection: never sent), ``read-timeout`` and
    ``broken`` (it may have reached Plivo).
    """
    texts = {
        "connect-timeout": f"could not connect to {base_url} within {timeout:g} s",
        "pool-timeout": f"no free connection to {base_url} within {timeout:g} s",
        "read-timeout": f"Plivo did not answer within {timeout:g} s (connection extra 'timeout')",
        "connect": f"connection to {base_url} failed: {detail}",
        "broken": f"connection to {base_url} failed: {detail}",
    }
    return PlivoConnectionError(
        f"{endpoint}: {texts[stage]}", request_sent=stage in ("read-timeout", "broken")
    )


class ClientBase:
    """What the blocking and the async driver share (as httpx's ``BaseClient`` does for its
    ``Client`` and ``AsyncClient``): the account, retries, pool, limiter and log, and how one
    attempt's answer or failure is read. The drivers add only the I/O.

    :param account: where and as whom to call Plivo (read from a ``plivo`` connection).
    :param retry: how often and how patiently each request is retried.
    :param pool_size: connections kept open, and the most requests of one plan's batch under way
        (the limiter may allow fewer).
    :param limiter: how many requests are in flight and started per period, told every answer;
        None for no limit.
    :param logger: where retries are reported.
    """

    def __init__(
        self,
        account: PlivoAccount,
        *,
        retry: RetryPolicy | None = None,
        pool_size: int = 10,
        limiter: Limits | None = None,
        logger: Log | None = None,
    ) -> None:
        import logging

        self.account = account
        self.retry = retry or RetryPolicy()
        self.pool_size = pool_size
        self.limiter = limiter
        self.log: Log = logger or logging.getLogger(type(self).__module__)
        self.stopping = threading.Event()
        """Set by :meth:`stop`: no request starts any more, and no retry."""

    def stop(self) -> None:
        """Stop for good (the task is being killed or timed out): requests not yet sent are
        refused with :class:`PlivoInterruptedError`, retries end, backoffs are cut short; what
        is in flight finishes within its timeout."""
        self.stopping.set()

    def _check_running(self, request: Request) -> None:
        if self.stopping.is_set():
            raise not_sent(request)

    def _unless_stopping(
        self, should_retry: Callable[[BaseException], bool]
    ) -> Callable[[BaseException], bool]:
        return lambda err: not self.stopping.is_set() and should_retry(err)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.account!r})"

    def _timeout(self, request: Request) -> float:
        return self.account.timeout if request.timeout is None else request.timeout

    def _http_arguments(self, request: Request) -> dict[str, Any]:
        """What both HTTP libraries take alike for ``request`` (the body's name differs)."""
        return {
            "method": request.method,
            "url": self.account.api_root + request.path,
            "params": request.params,
            "json": request.json,
            "headers": request.headers,
            "timeout": self._timeout(request),
        }

    def _failed(
        self, request: Request, stage: str, cause: BaseException, detail: object = None
    ) -> PlivoError:
        """The classified error for an attempt that did not complete. ``cause`` (the HTTP
        library's error, chained) loses the request it carries: its headers hold the credentials."""
        for holder in (cause, *cause.args):
            for name in ("request", "_request"):
                if getattr(holder, name, None) is not None:
                    with suppress(AttributeError):
                        setattr(holder, name, None)
        text = None if detail is None else scrub(str(detail), self.account.secrets)
        if stage in ("connect", "broken") and is_certificate_error(cause):
            return PlivoTLSError(
                f"{request.endpoint}: the TLS certificate of {self.account.base_url} could not be "
                f"verified ({text}). A retry cannot fix this: check the connection's host, the "
                "server's certificate, or the CA bundle (REQUESTS_CA_BUNDLE, SSL_CERT_FILE)"
            )
        return connection_failed(
            request.endpoint, self.account.base_url, self._timeout(request), stage=stage, detail=text
        )

    def _reader(self, request: Request, headers: Mapping[str, str]) -> AnswerReader:
        """Where a driver puts the raw body of ``request``'s answer; told its headers first."""
        if request.on_headers is not None:
            request.on_headers(headers)
        return AnswerReader(request.endpoint, headers.get("Content-Encoding"))

    def _answer(
        self, request: Request, status: int, reason: str | None, headers: Mapping[str, str], body: bytes
    ) -> dict[str, Any]:
        # JSON is UTF-8 (RFC 8259)
        return parse_response(
            status=status,
            reason=reason,
            headers=headers,
            text=body.decode("utf-8", "replace"),
            endpoint=request.endpoint,
            secrets=self.account.secrets,
        )


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a request is retried.

    :param attempts: attempts per request, the first included.
    :param wait_initial: seconds before the first retry; doubles each time, with jitter.
    :param wait_max: the longest backoff between two attempts (a ``Retry-After`` may be longer).
    """

    attempts: int = 5
    wait_initial: float = 1.0
    wait_max: float = 30.0

    def wait(
        self, attempt: int, exc: BaseException | None, *, jitter: Callable[[], float] = random.random
    ) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (from 1): Plivo's
        ``Retry-After`` when it sent one, else exponential backoff with jitter."""
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), RETRY_AFTER_MAX)
        backoff = self.wait_initial * 2.0 ** (attempt - 1)
        return min(self.wait_max, backoff + jitter() * self.wait_initial)

    def tenacity_settings(
        self,
        what: str,
        should_retry: Callable[[BaseException], bool],
        log: Log,
        retries: list[str] | None = None,
    ) -> dict[str, Any]:
        """tenacity's settings for one call: the same for the blocking and the async driver.

        Each retry is logged with the attempt, the reason and the wait; ``retries`` (when given)
        collects a short label per retry, for the caller's summary.
        """
        from tenacity import RetryCallState, retry_if_exception, stop_after_attempt

        def wait(state: RetryCallState) -> float:
            return self.wait(state.attempt_number, state.outcome.exception() if state.outcome else None)

        def log_retry(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            if retries is not None:
                retries.append(retry_reason(exc))
            log.warning(
                "%s: attempt %d of %d failed (%s); retrying in %.1f s",
                what,
                state.attempt_number,
                self.attempts,
                exc,
                state.upcoming_sleep,
            )

        return {
            "stop": stop_after_attempt(self.attempts),
            "wait": wait,
            "retry": retry_if_exception(should_retry),
            "before_sleep": log_retry,
            "reraise": True,
        }


def retry_reason(exc: BaseException | None) -> str:
    """A short label for a retry, used to summarise why retries happened."""
    if isinstance(exc, PlivoAPIError):
        return f"HTTP {exc.status_code}"
    if isinstance(exc, PlivoConnectionError):
        return "connection error"
    if isinstance(exc, PlivoMediaObjectError):
        return "failed files"
    if isinstance(exc, PlivoResponseError):
        return "malformed response"
    return type(exc).__name__


def excerpt(text: str) -> str:
    """The start of a body, on one line, for an error message."""
    flat = " ".join(text.split())
    return flat if len(flat) <= _BODY_EXCERPT_CHARS else flat[:_BODY_EXCERPT_CHARS] + "..."
