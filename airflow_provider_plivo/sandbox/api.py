"""The sandbox's API layer: one request in (method, path, query, headers, body), one Response out.

No socket here: auth, the account's limits, the routes, faults that answer instead of an
endpoint, the record of every request and the stats all work on a request already read, so they
can be tested by calling :meth:`SandboxAPI.handle`. What needs the connection itself (reading the
body, resets, hangs) is the transport's (:mod:`~airflow_provider_plivo.sandbox.transport`).
Routes live in one table (``SandboxAPI._routes``), so a new endpoint is one method. Paths are
served with or without their trailing slash, as Plivo serves them. How unkind the answers are
(the account's sending speed, masked numbers, recorded shapes...) is the
:class:`~airflow_provider_plivo.sandbox.realism.Realism` the API is given.

Two choices where Plivo says nothing precise: a message over 5 MB (error 120) counts each media ID
at its stored size and each ``media_urls`` entry at the size of the sandbox media it names (a URL
elsewhere counts 0 bytes, as the sandbox fetches nothing); with recorded shapes on, every second
``GET Media/{media_id}`` answer (the 2nd, 4th... the sandbox gives, counted across all media)
names the file's address ``url`` instead of ``media_url``, as the Java and PHP SDKs' recordings do.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import json
import operator
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import IO, TYPE_CHECKING, Any

from airflow_provider_plivo.limits import MAX_FILES_PER_UPLOAD, MEDIA_PAGE_SIZE, MESSAGE_PAGE_SIZE
from airflow_provider_plivo.sandbox import faults, wire_records
from airflow_provider_plivo.sandbox.delivery import (
    EXPIRED,
    TOO_LARGE,
    DispatchQueue,
    Fate,
    error_message,
    fate_of,
    progress,
    shown_states,
)
from airflow_provider_plivo.sandbox.message_requests import read_send
from airflow_provider_plivo.sandbox.multipart import MultipartError, parse_form_data
from airflow_provider_plivo.sandbox.realism import KINDER, Realism
from airflow_provider_plivo.sandbox.responses import (
    Response,
    SandboxHTTPError,
    error_response,
    json_response,
    new_api_id,
)
from airflow_provider_plivo.sandbox.store import MessageQuery, StateFilter, StoredMessage

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from airflow_provider_plivo.sandbox.account_limits import AccountLimits
    from airflow_provider_plivo.sandbox.faults import FaultPlan, ScriptedFault
    from airflow_provider_plivo.sandbox.message_requests import Send
    from airflow_provider_plivo.sandbox.store import SandboxStore, StoredMedia

__all__ = ["ApiRequest", "SandboxAPI", "SandboxRequest"]

_TIME_FILTERS = {
    "message_time__gt": operator.gt,
    "message_time__gte": operator.ge,
    "message_time__lt": operator.lt,
    "message_time__lte": operator.le,
}
_STATE_FILTERS = ("message_state", "error_code")
"""Filters on what moves with the clock: tested against each message's record now."""
_FILTER_TIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f")
_MESSAGE_LIST = re.compile(r"/v1/Account/[^/]+/Message/?")
"""The message list, which Plivo limits on its own (not ``Message/{uuid}/``)."""
_UPLOAD_TYPES_ERROR = "File format of the file to be uploaded should be one of JPG, JPEG, PNG or PDF"
"""Plivo's recorded words for a refused upload type (plivo-python issue #295)."""
_REDACTED_TEXT = "***Text Content Redacted***"


@dataclass(frozen=True)
class SandboxRequest:
    """One request the sandbox received, for tests to count and inspect.

    ``status`` is 0 when a fault dropped the connection instead of answering.
    """

    method: str
    path: str
    status: int
    file_names: tuple[str, ...] = ()
    user_agent: str = ""
    json: Any = None
    """The parsed body of a JSON request (sends), else None."""
    fault: str | None = None
    """The fault the sandbox injected into this request, if any."""


@dataclass
class ApiRequest:
    """One request as the API layer reads it; route handlers note what they found on it."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    """Header names in lower case."""
    body: bytes | IO[bytes] = b""
    """The body, whole or as a file at its start (the transport's, which may be on disk)."""
    match: re.Match[str] | None = None
    file_names: list[str] = field(default_factory=list)
    json: Any = None
    fault: str | None = None

    def content(self) -> bytes:
        """The whole body in memory: for the small JSON bodies, not for uploads."""
        return self.body if isinstance(self.body, bytes) else self.body.read()

    @property
    def params(self) -> re.Match[str]:
        """The route's path parameters (set once a route matched)."""
        assert self.match is not None
        return self.match


Route = Callable[[ApiRequest], Response]


class SandboxAPI:
    """
    Plivo's API over a :class:`~airflow_provider_plivo.sandbox.store.SandboxStore`.

    :param store: what the API stores and reads.
    :param auth_id: the Auth ID requests must authenticate with.
    :param auth_token: the Auth Token requests must authenticate with.
    :param base_url: where the sandbox is reached (for ``media_url``); read on each use, as the
        transport knows its port only once listening.
    :param fault_plans: the fault plan of each endpoint: ``media``, ``message`` and ``status``.
    :param limits: the account's limits (429 beyond them).
    :param max_file_size: the per-file upload limit, in bytes.
    :param delivery_seconds: sandbox-clock seconds from queued to the final state.
    :param realism: which of production Plivo's habits the answers show (none by default).
    :param latency_ms: milliseconds to wait before every answer, with ``wait``.
    :param wait: sleeps up to the given seconds (the sandbox's, waking when it stops).
    """

    def __init__(
        self,
        store: SandboxStore,
        *,
        auth_id: str,
        auth_token: str,
        base_url: Callable[[], str],
        fault_plans: Mapping[str, FaultPlan],
        limits: AccountLimits,
        max_file_size: int,
        delivery_seconds: float,
        realism: Realism = KINDER,
        latency_ms: float = 0.0,
        wait: Callable[[float], object] = time.sleep,
    ) -> None:
        self.store = store
        self.auth_id = auth_id
        self.auth_token = auth_token
        self._base_url = base_url
        self.fault_plans = fault_plans
        self._limits = limits
        self.max_file_size = max_file_size
        self.delivery_seconds = delivery_seconds
        self.realism = realism
        self._delivery = timedelta(seconds=delivery_seconds / realism.time_scale)
        """``delivery_seconds`` on the scaled clock of the messages' lifecycle."""
        self._queue = DispatchQueue(realism.mps, time_scale=realism.time_scale, processing=self._delivery / 2)
        self.set_latency(latency_ms)
        self._wait = wait
        self._lock = threading.Lock()
        self._requests: list[SandboxRequest] = []
        self._in_flight = 0
        self.peak_in_flight = 0
        """The most requests being answered at once."""
        self._media_reads = 0
        """``GET Media/{media_id}`` answers given: every second one says ``url`` (recorded shapes)."""
        self._api_busy: tuple[float, float] | None = None
        """When the first API request arrived and when the last API answer went (monotonic)."""
        self._stats_from = 0
        """How many of :attr:`requests` came before the stats were last reset."""
        account = r"/v1/Account/(?P<auth_id>[^/]+)"
        message = account + r"/Message/(?P<message_uuid>[^/]+)"
        # Plivo serves its API paths with or without the trailing slash: so does the sandbox.
        self._routes: list[tuple[str, re.Pattern[str], Route, bool]] = [
            ("POST", re.compile(account + r"/Media/?"), self._upload_media, True),
            ("GET", re.compile(account + r"/Media/?"), self._list_media, True),
            ("GET", re.compile(account + r"/Media/(?P<media_id>[^/]+)/?"), self._get_media, True),
            ("POST", re.compile(account + r"/Message/?"), self._send_message, True),
            ("GET", re.compile(account + r"/Message/?"), self._list_messages, True),
            ("GET", re.compile(message + r"/?"), self._get_message, True),
            ("GET", re.compile(message + r"/Media/?"), self._message_media, True),
            ("GET", re.compile(r"/_sandbox/stats"), self._stats, False),
            ("POST", re.compile(r"/_sandbox/stats/reset"), self._reset_stats, False),
            ("POST", re.compile(r"/_sandbox/faults"), self._script_fault, False),
            ("POST", re.compile(r"/_sandbox/latency"), self._set_latency, False),
            (
                "GET",
                re.compile(r"/Account/(?P<auth_id>[^/]+)/Media/(?P<media_id>[^/]+)"),
                self._media_file,
                False,
            ),
        ]

    # -- what the transport calls -------------------------------------------------------------

    @contextlib.contextmanager
    def in_flight(self, path: str) -> Iterator[None]:
        """Count one request as in flight for the block (reading its body, answering, latency)."""
        arrived = time.monotonic()
        with self._lock:
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
                if path.startswith("/v1/"):
                    first = self._api_busy[0] if self._api_busy else arrived
                    self._api_busy = (min(first, arrived), time.monotonic())

    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
        body: bytes | IO[bytes] = b"",
    ) -> Response:
        """Answer one request, after the configured latency, and record it in :attr:`requests`."""
        request = ApiRequest(method, path, query, _lower(headers), body)
        admitted = False
        try:
            message_list = method == "GET" and _MESSAGE_LIST.fullmatch(path) is not None
            if path.startswith("/v1/") and not (admitted := self._limits.admit(message_list=message_list)):
                # Plivo promises no Retry-After on these 429s, so neither does the sandbox.
                response = error_response(429, "too many requests")
            else:
                response = self._route(request)
            self._record(request, response)
            if self.latency and not path.startswith("/_sandbox/"):
                # The control paths are the test's, not Plivo's: a stats read in the middle of a
                # run must not wait as long as the run's answers do.
                self._wait(self.latency)
            return response
        finally:
            if admitted:
                self._limits.release()

    def refuse(self, method: str, path: str, headers: Mapping[str, str], error: SandboxHTTPError) -> Response:
        """Answer a request whose body could not be read; the connection then closes, as the rest
        of the body is unread and must not be taken for the next request."""
        request = ApiRequest(method, path, {}, _lower(headers))
        response = replace(error_response(error.status, error.message), close=True)
        self._record(request, response)
        if self.latency:
            self._wait(self.latency)
        return response

    @property
    def requests(self) -> list[SandboxRequest]:
        """Every request answered so far, in order (a snapshot)."""
        with self._lock:
            return list(self._requests)

    def stats(self) -> dict[str, Any]:
        """Counts for clients in other processes (``GET /_sandbox/stats``): not part of Plivo's API.
        Requests, statuses, the peak in flight and the API's busy time count from the last
        :meth:`reset_stats`; ``media`` and ``messages`` are what the store holds."""
        with self._lock:
            busy = self._api_busy
            requests = [r for r in self._requests[self._stats_from :] if r.path.startswith("/v1/")]
        return {
            "requests": len(requests),
            "statuses": Counter(str(request.status) for request in requests),
            "media": len(self.store.all_media()),
            "messages": self.store.message_count(),
            "peak_in_flight": self.peak_in_flight,
            "api_seconds": busy[1] - busy[0] if busy else 0.0,
        }

    def reset_stats(self) -> None:
        """Count :meth:`stats` afresh from now (``POST /_sandbox/stats/reset``), e.g. between the
        runs of a benchmark; :attr:`requests` and the store are kept."""
        with self._lock:
            self._stats_from = len(self._requests)
            self.peak_in_flight = self._in_flight
            self._api_busy = None

    def set_latency(self, latency_ms: float) -> None:
        """Delay every answer from now by ``latency_ms`` (``POST /_sandbox/latency``); a request
        already waiting out the old latency keeps it.

        :raises ValueError: ``latency_ms`` is not a number of 0 or more.
        """
        if not faults.finite_number(latency_ms) or latency_ms < 0:
            raise ValueError(f"latency_ms must be a number of 0 or more milliseconds, got {latency_ms!r}")
        self.latency = latency_ms / 1000

    def script_fault(self, fault: ScriptedFault) -> None:
        """Script ``fault`` into its endpoint's plan (``POST /_sandbox/faults``, the command line)."""
        plan = self.fault_plans[fault.endpoint]
        if fault.request is not None:
            plan.script({fault.request: fault.kind})
        else:
            plan.script_spell(fault.kind, count=fault.count, seconds=fault.seconds)

    # -- dispatch -----------------------------------------------------------------------------

    def _record(self, request: ApiRequest, response: Response) -> None:
        entry = SandboxRequest(
            request.method,
            request.path,
            0 if response.drop or response.hang else response.status,
            tuple(request.file_names),
            request.headers.get("user-agent", ""),
            request.json,
            request.fault,
        )
        with self._lock:
            self._requests.append(entry)

    def _route(self, request: ApiRequest) -> Response:
        for route_method, pattern, handler, needs_auth in self._routes:
            match = pattern.fullmatch(request.path)
            if route_method != request.method or not match:
                continue
            request.match = match
            try:
                if needs_auth:
                    self._authenticate(request.headers.get("authorization", ""), match["auth_id"])
                return handler(request)
            except SandboxHTTPError as err:
                return error_response(err.status, err.message)
            except Exception as err:  # a sandbox bug: answer it rather than drop the connection
                return error_response(500, f"sandbox error: {err!r}")
        return error_response(404, f"{request.method} {request.path} is not a Plivo API path")

    def _authenticate(self, header: str, path_auth_id: str) -> None:
        scheme, _, encoded = header.partition(" ")
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            user = password = ""
        if (
            scheme.lower() != "basic"
            or not hmac.compare_digest(user.encode(), self.auth_id.encode())
            or not hmac.compare_digest(password.encode(), self.auth_token.encode())
        ):
            raise SandboxHTTPError(401, "Authentication credentials invalid")
        if path_auth_id != user:
            raise SandboxHTTPError(401, "Auth ID in the URL does not match the credentials")

    # -- media --------------------------------------------------------------------------------

    def _upload_media(self, request: ApiRequest) -> Response:
        try:
            # Only what can be stored is kept: a part over the size limit, or beyond the most files
            # a request may carry, is refused, so its bytes are only counted.
            parts = parse_form_data(
                request.headers.get("content-type", ""),
                request.body,
                keep_bytes=self.max_file_size,
                keep_parts=MAX_FILES_PER_UPLOAD,
            )
        except MultipartError as err:
            raise SandboxHTTPError(400, str(err)) from None
        request.file_names.extend(part.file_name for part in parts)
        fault = request.fault = self.fault_plans["media"].next_request()
        if (answer := faults.answer_instead(fault)) is not None:
            return answer
        if not parts:
            raise SandboxHTTPError(400, "no file in the request: send parts named 'file'")
        if len(parts) > MAX_FILES_PER_UPLOAD:
            raise SandboxHTTPError(
                400, f"too many files: {len(parts)}; at most {MAX_FILES_PER_UPLOAD} per request"
            )
        for part in parts:
            if part.name != "file":
                raise SandboxHTTPError(
                    400, f"unexpected form field {part.name!r}: parts must be named 'file'"
                )
            if part.size > self.max_file_size:
                raise SandboxHTTPError(
                    400, f"{part.file_name}: {part.size} bytes exceeds the {self.max_file_size} byte limit"
                )
        types = self.realism.upload_types
        if types is not None and (refused := [p for p in parts if p.content_type.lower() not in types]):
            # One refused file refuses the whole request, in Plivo's recorded words; the sandbox
            # adds which files, as Plivo's words name none.
            named = ", ".join(f"{p.file_name} ({p.content_type})" for p in refused)
            raise SandboxHTTPError(400, f"{_UPLOAD_TYPES_ERROR}: {named}")
        failed_first = faults.fails_first_object(fault)
        stored = self.store.add_media(
            (part.file_name, part.content_type, part.data) for part in parts[1 if failed_first else 0 :]
        )
        objects = [{**self._describe(media), "status": "success", "status_code": 201} for media in stored]
        if failed_first:
            objects.insert(0, faults.failed_object(parts[0].file_name, parts[0].content_type))
        return faults.after_acting(fault, json_response(200, {"api_id": new_api_id(), "objects": objects}))

    def _get_media(self, request: ApiRequest) -> Response:
        media = self.store.live_media([request.params["media_id"]]).get(request.params["media_id"])
        if media is None:
            raise SandboxHTTPError(404, "media not found")
        described = self._describe(media)
        if self.realism.recorded_shapes:
            with self._lock:
                self._media_reads += 1
                alternate = self._media_reads % 2 == 0
            if alternate:
                described["url"] = described.pop("media_url")
        return json_response(200, {"api_id": new_api_id(), **described})

    def _list_media(self, request: ApiRequest) -> Response:
        return self._page(request, self.store.media_page, self._describe, MEDIA_PAGE_SIZE)

    # -- messages -----------------------------------------------------------------------------

    def _send_message(self, request: ApiRequest) -> Response:
        request.json = _json_object(request)
        fault = request.fault = self.fault_plans["message"].next_request()
        if (answer := faults.answer_instead(fault)) is not None:
            return answer
        send = read_send(request.json)
        live = self.store.live_media([*send.media_ids, *self._named_media(send)])
        if missing := [media_id for media_id in send.media_ids if media_id not in live]:
            raise SandboxHTTPError(400, f"media not found or expired: {', '.join(missing)}")
        units = wire_records.message_units(send.text, send.message_type)
        limit = self.realism.max_message_size
        too_large = limit is not None and self._message_size(send, live) >= limit
        honour_log = self.realism.honour_log
        text = _REDACTED_TEXT if honour_log and send.redacts_text else send.text

        def build(now: datetime) -> list[StoredMessage]:
            messages = []
            for number in send.numbers:
                fate, charged = fate_of(number), True
                if too_large:
                    fate, charged = TOO_LARGE, False
                    dequeued_at = now + self._delivery / 2  # refused before it takes a place in the queue
                else:
                    slot = self._queue.schedule(send.message_type, now, send.message_expiry)
                    dequeued_at = slot.dequeued_at
                    if slot.expired:
                        fate, charged = EXPIRED, False
                messages.append(
                    StoredMessage(
                        message_uuid=str(uuid.uuid4()),
                        from_number=send.src,
                        to_number=wire_records.masked_number(number)
                        if honour_log and send.masks_numbers
                        else number,
                        text=text,
                        message_type=send.message_type,
                        media_ids=send.media_ids,
                        queued_at=now,
                        final_state=fate.final_state,
                        error_code=fate.error_code,
                        dequeued_at=dequeued_at,
                        units=units,
                        charged=charged,
                    )
                )
            return messages

        messages = self.store.add_messages(build, send.media_ids)
        body: dict[str, Any] = {
            "api_id": new_api_id(),
            "message": "message(s) queued",
            "message_uuid": [m.message_uuid for m in messages],
        }
        if send.invalid_numbers:
            body["invalid_number"] = list(send.invalid_numbers)
        return faults.after_acting(fault, json_response(202, body))

    def _message_size(self, send: Send, live: Mapping[str, StoredMedia]) -> int:
        """Bytes of text and attachments: media IDs at their stored size, ``media_urls`` at the
        size of the sandbox media they name (0 elsewhere: the sandbox fetches nothing)."""
        named = [*send.media_ids, *self._named_media(send)]
        return len(send.text.encode()) + sum(len(live[m].data) for m in named if m in live)

    def _named_media(self, send: Send) -> list[str]:
        """The media IDs of the sandbox's own media that ``send``'s ``media_urls`` name."""
        own = f"{self._base_url()}/Account/{self.auth_id}/Media/"
        return [u.removeprefix(own).rstrip("/") for u in send.media_urls if u.startswith(own)]

    def _get_message(self, request: ApiRequest) -> Response:
        if (answer := self._status_fault(request)) is not None:
            return answer
        message = self._message(request)
        return json_response(200, {"api_id": new_api_id(), **self._message_record(message)})

    def _list_messages(self, request: ApiRequest) -> Response:
        if (answer := self._status_fault(request)) is not None:
            return answer
        query = request.query
        listing = MessageQuery(
            bounds=[
                (_TIME_FILTERS[name], _filter_time(name, values[0]))
                for name, values in query.items()
                if name in _TIME_FILTERS
            ],
            message_type=query["message_type"][0] if "message_type" in query else None,
            message_direction=query["message_direction"][0] if "message_direction" in query else None,
        )
        counted = not self.realism.recorded_shapes
        state = None
        if wanted := {name: query[name][0] for name in _STATE_FILTERS if name in query}:
            now = self.store.now()

            def shows(state: str, error_code: str | None) -> bool:
                return all(
                    str(value) == wanted[name]
                    for name, value in _state_fields(state, error_code)
                    if name in wanted
                )

            def matches(message: StoredMessage) -> bool:
                fate = Fate(message.final_state, message.error_code)
                stands = progress(fate, message.queued_at, message.dequeued_at, now, self._delivery)
                return shows(stands.state, stands.error_code)

            state = StateFilter(
                fates=lambda final, code: any(shows(*shown) for shown in shown_states(Fate(final, code))),
                final=shows,
                # progress() puts a message in its final state half of delivery_seconds after it
                # leaves the queue (a failure at once): by then every message has its fate.
                settled_by=now - self._delivery / 2,
                matches=matches,
            )

        def fetch(offset: int, limit: int) -> tuple[list[StoredMessage], int]:
            return self.store.message_page(listing, offset, limit, state=state, count=counted)

        return self._page(request, fetch, self._message_record, MESSAGE_PAGE_SIZE, total_count=counted)

    def _status_fault(self, request: ApiRequest) -> Response | None:
        """The answer a scripted fault gives a status read instead of its own, if any."""
        request.fault = self.fault_plans["status"].next_request()
        return faults.answer_instead(request.fault)

    def _message_media(self, request: ApiRequest) -> Response:
        message = self._message(request)
        stored = self.store.all_media()
        objects = [
            {
                "content_type": stored[media_id].content_type,
                "media_id": media_id,
                "media_url": self._media_url(media_id),
                "message_uuid": message.message_uuid,
                "size": len(stored[media_id].data),
            }
            for media_id in message.media_ids
            if media_id in stored
        ]
        return self._page(
            request, lambda at, limit: (objects[at : at + limit], len(objects)), dict, MEDIA_PAGE_SIZE
        )

    def _message(self, request: ApiRequest) -> StoredMessage:
        message = self.store.message(request.params["message_uuid"])
        if message is None:
            raise SandboxHTTPError(404, "message not found")
        return message

    def _message_record(self, message: StoredMessage) -> dict[str, Any]:
        """Plivo's record of ``message`` as it stands on the sandbox clock now."""
        fate = Fate(message.final_state, message.error_code)
        now = progress(fate, message.queued_at, message.dequeued_at, self.store.now(), self._delivery)
        charged_units = message.units if message.charged else 0
        total_rate, total_amount = wire_records.price(message.message_type, charged_units)
        offset = self.realism.utc_offset
        return {
            "error_code": now.error_code,
            "error_message": error_message(now.error_code, recorded=self.realism.recorded_shapes),
            "from_number": message.from_number.removeprefix("+"),
            "message_direction": "outbound",
            "message_sent_time": wire_records.plivo_time(now.sent_at, offset) if now.sent_at else None,
            "message_state": now.state,
            "message_time": wire_records.plivo_time(message.queued_at, offset),
            "message_type": message.message_type,
            "message_updated_time": wire_records.plivo_time(now.updated_at, offset),
            "message_uuid": message.message_uuid,
            "resource_uri": f"/v1/Account/{self.auth_id}/Message/{message.message_uuid}/",
            "to_number": message.to_number.removeprefix("+"),
            "total_amount": total_amount,
            "total_rate": total_rate,
            "units": message.units,
        }

    # -- shared -------------------------------------------------------------------------------

    def _page(
        self,
        request: ApiRequest,
        fetch: Callable[[int, int], tuple[Sequence[Any], int]],
        render: Callable[[Any], dict[str, Any]],
        page_size: int,
        *,
        total_count: bool = True,
    ) -> Response:
        """Answer the page that ``limit`` and ``offset`` ask for: ``fetch(offset, limit)`` gives its
        objects and the list's length (indexed, so a long list costs one page's work), and only
        those objects are turned into records by ``render``. ``total_count=False``: ``meta``
        without the count, as many recorded message lists have."""
        limit = _int_param(request.query, "limit", page_size)
        offset = _int_param(request.query, "offset", 0)
        if not 1 <= limit <= page_size or offset < 0:
            raise SandboxHTTPError(400, f"limit must be 1 to {page_size} and offset at least 0")
        objects, total = fetch(offset, limit)
        listed = wire_records.page(
            request.path,
            request.query,
            [render(obj) for obj in objects],
            total=total,
            limit=limit,
            offset=offset,
            total_count=total_count,
        )
        return json_response(200, {"api_id": new_api_id(), **listed})

    def _stats(self, request: ApiRequest) -> Response:
        return json_response(200, self.stats())

    def _reset_stats(self, request: ApiRequest) -> Response:
        self.reset_stats()
        return json_response(200, self.stats())

    def _set_latency(self, request: ApiRequest) -> Response:
        """``{"ms": 150}``: answers the latency now in force."""
        body = _json_object(request)
        if set(body) != {"ms"}:
            raise SandboxHTTPError(400, f'the body is {{"ms": N}}, got the fields {sorted(body)}')
        try:
            self.set_latency(body["ms"])
        except ValueError as err:
            raise SandboxHTTPError(400, str(err)) from None
        return json_response(200, {"ms": body["ms"]})

    def _script_fault(self, request: ApiRequest) -> Response:
        """``{"endpoint": "status", "kind": "503", "seconds": 20}`` (or ``"count": 5``, or
        ``"request": 3``; ``endpoint`` defaults to ``media``): answers what was scripted."""
        body = _json_object(request)
        fields = {"endpoint", "kind", "request", "count", "seconds"}
        if unknown := sorted(set(body) - fields):
            raise SandboxHTTPError(400, f"unknown fields {unknown}; a fault has {', '.join(sorted(fields))}")
        if "kind" not in body:
            raise SandboxHTTPError(400, 'a fault needs a kind, e.g. "503"')
        kind = body["kind"]
        try:
            fault = faults.ScriptedFault(
                endpoint=body.get("endpoint", "media"),
                kind=str(kind) if isinstance(kind, int) and not isinstance(kind, bool) else kind,
                request=body.get("request"),
                count=body.get("count"),
                seconds=body.get("seconds"),
            )
        except ValueError as err:
            raise SandboxHTTPError(400, str(err)) from None
        self.script_fault(fault)
        return json_response(200, {"scripted": asdict(fault)})

    def _media_file(self, request: ApiRequest) -> Response:
        media = self.store.live_media([request.params["media_id"]]).get(request.params["media_id"])
        if media is None or request.params["auth_id"] != self.auth_id:
            raise SandboxHTTPError(404, "media not found")
        return Response(200, media.data, media.content_type)

    def _media_url(self, media_id: str) -> str:
        return f"{self._base_url()}/Account/{self.auth_id}/Media/{media_id}"

    def _describe(self, media: StoredMedia) -> dict[str, Any]:
        return {
            "content_type": media.content_type,
            "file_name": media.file_name,
            "media_id": media.media_id,
            "size": len(media.data),
            "upload_time": wire_records.upload_time(media.upload_time),
            "media_url": self._media_url(media.media_id),
        }


def _json_object(request: ApiRequest) -> dict[str, Any]:
    """The request's JSON object body, or a 400 saying what is wrong with it."""
    try:
        body = json.loads(request.content() or b"null")
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python recurses
        raise SandboxHTTPError(400, "the body must be JSON") from None
    try:
        json.dumps(body, ensure_ascii=False).encode()
    except UnicodeEncodeError:  # a "\ud800" escape parses to half a character: no text holds it
        raise SandboxHTTPError(400, "the body's strings must be text: it escapes a lone surrogate") from None
    if not isinstance(body, dict):
        raise SandboxHTTPError(400, "the body must be a JSON object")
    return body


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names are case-insensitive: the routes read them in lower case."""
    return {name.lower(): value for name, value in headers.items()}


def _state_fields(state: str, error_code: str | None) -> tuple[tuple[str, str | None], ...]:
    """A message's fields that the state filters test, as its record names them."""
    return ("message_state", state), ("error_code", error_code)


def _int_param(query: Mapping[str, list[str]], name: str, default: int) -> int:
    try:
        return int(query[name][0]) if name in query else default
    except ValueError:
        raise SandboxHTTPError(400, f"{name} must be a whole number") from None


def _filter_time(name: str, text: str) -> datetime:
    """A list filter's time, ``YYYY-MM-DD HH:MM[:ss[.uuuuuu]]`` in UTC."""
    for time_format in _FILTER_TIME_FORMATS:
        try:
            return datetime.strptime(text, time_format).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    raise SandboxHTTPError(400, f"{name} must read YYYY-MM-DD HH:MM[:ss[.uuuuuu]], not {text!r}")
