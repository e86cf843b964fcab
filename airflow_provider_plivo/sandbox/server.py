"""A local HTTP server that speaks Plivo's wire format, for developing and testing DAGs offline.

It checks Basic auth like Plivo, keeps uploaded media in memory (serving each file's bytes at
its ``media_url``), accepts messages and moves them along on its own clock, which tests can
advance. Routes live in one table (``PlivoSandbox._routes``) so a new endpoint is one method.
Paths are served with or without their trailing slash, as Plivo serves them.

It is never kinder than Plivo: +1 numbers get no delivery report and stay ``sent``; duplicate
destinations are sent once, malformed ones come back in ``invalid_number``, more than 1,000
are refused; unused media expires after 6 hours; wrong-typed fields, malformed bodies and bad
``Content-Length`` headers get a 400, and a client that stops sending is cut off after
``read_timeout`` seconds.

Test numbers (see :mod:`~airflow_provider_plivo.sandbox.delivery`):

=================  ===============  ==================================================
number             final state      ``error_code``
=================  ===============  ==================================================
any other +1       ``sent``         none: no delivery report in the US and Canada
any other          ``delivered``    ``000``
``+15005550001``   ``undelivered``  ``80``: destination temporarily unavailable
``+15005550002``   ``failed``       ``50``: invalid destination number
``+15005550003``   ``rejected``     ``100``: prohibited by carrier
``+15005550005``   ``delivered``    ``000``: a +1 carrier that does report delivery
``+61491570159``   ``sent``         none: outside +1, a carrier that sends no receipt
=================  ===============  ==================================================
"""

from __future__ import annotations

import base64
import hmac
import json
import operator
import re
import socket
import struct
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from airflow_provider_plivo.limits import (
    MAX_FILES_PER_UPLOAD,
    MAX_MEDIA_FILE_SIZE,
    MEDIA_EXPIRY_HOURS,
    MEDIA_PAGE_SIZE,
)
from airflow_provider_plivo.sandbox import faults, records
from airflow_provider_plivo.sandbox.bodies import read_body
from airflow_provider_plivo.sandbox.delivery import TEST_NUMBER_FATES, Fate, error_message, fate_of, progress
from airflow_provider_plivo.sandbox.faults import MESSAGE_FAULT_KINDS, STATUS_FAULT_KINDS, FaultPlan
from airflow_provider_plivo.sandbox.multipart import MultipartError, parse_form_data
from airflow_provider_plivo.sandbox.rate_limit import AccountLimits
from airflow_provider_plivo.sandbox.responses import (
    Response,
    SandboxHTTPError,
    error_response,
    json_response,
    new_api_id,
)
from airflow_provider_plivo.sandbox.sends import read_send

if TYPE_CHECKING:
    from airflow_provider_plivo.sandbox.bodies import BodyStream

__all__ = [
    "SANDBOX_AUTH_ID",
    "SANDBOX_AUTH_TOKEN",
    "TEST_NUMBER_FATES",
    "PlivoSandbox",
    "SandboxRequest",
    "StoredMedia",
    "StoredMessage",
]

SANDBOX_AUTH_ID = "MASANDBOX00000000000"
SANDBOX_AUTH_TOKEN = "sandbox-auth-token"
_TIME_FILTERS = {
    "message_time__gt": operator.gt,
    "message_time__gte": operator.ge,
    "message_time__lt": operator.lt,
    "message_time__lte": operator.le,
}
_FIELD_FILTERS = ("message_state", "message_direction", "message_type", "error_code")
_FILTER_TIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f")


@dataclass(frozen=True)
class StoredMedia:
    """One uploaded file as the sandbox keeps it."""

    media_id: str
    file_name: str
    content_type: str
    data: bytes
    upload_time: datetime


@dataclass(frozen=True)
class StoredMessage:
    """One message (one destination number) as the sandbox keeps it.

    Numbers are kept as sent, with their '+' (``to_number`` in E.164); Plivo's records drop it.
    """

    message_uuid: str
    from_number: str
    to_number: str
    text: str
    message_type: str
    media_ids: tuple[str, ...]
    queued_at: datetime
    final_state: str
    error_code: str | None
    """Plivo's error code once the final state is reached."""
    units: int = 1


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


Route = Callable[["_Call"], Response]


@dataclass
class _Call:
    """What a route handler gets: the parsed request."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Any
    body: bytes = b""
    match: re.Match[str] | None = None
    file_names: list[str] = field(default_factory=list)
    json: Any = None
    fault: str | None = None
    admitted: bool = False
    """Taken in under the account's limits (so released from them once answered)."""

    @property
    def params(self) -> re.Match[str]:
        """The route's path parameters (set once a route matched)."""
        assert self.match is not None
        return self.match


class PlivoSandbox:
    """
    A Plivo-compatible API server on loopback; use it as a context manager.

    >>> with PlivoSandbox() as sandbox:
    ...     os.environ["AIRFLOW_CONN_PLIVO_DEFAULT"] = sandbox.connection_json()

    :param auth_id: the Auth ID requests must authenticate with.
    :param auth_token: the Auth Token requests must authenticate with.
    :param host: the address to listen on (loopback by default).
    :param port: the port; 0 picks a free one (see :attr:`url`).
    :param max_file_size: the per-file upload limit enforced, in bytes.
    :param latency_ms: delay before every answer, to model a real round trip.
    :param faults: scripted faults: upload request number (1-based) -> kind (see
        :mod:`airflow_provider_plivo.sandbox.faults`); more can be added with :meth:`script_faults`.
    :param fault_rate: chance, 0 to 1, of a random fault on any other upload request.
    :param fault_seed: seed for the random faults, so a run can be repeated exactly.
    :param message_faults: scripted faults for send requests: number (1-based) -> kind.
    :param hang_seconds: how long a ``hang`` fault keeps the client waiting.
    :param delivery_seconds: sandbox-clock seconds from queued to the final state (sent halfway).
    :param rate_limit: ``(requests, seconds)``: answer 429 beyond that many API requests per
        window, as Plivo does beyond 300 per 5 s; None (the default) for no limit.
    :param max_in_flight: answer 429 beyond that many API requests being answered at once, as
        Plivo does beyond 100; None (the default) for no limit.
    :param read_timeout: seconds a connection may stay silent while the sandbox waits for a
        request or the rest of its body; then it is cut off (408 mid-body).
    """

    def __init__(
        self,
        *,
        auth_id: str = SANDBOX_AUTH_ID,
        auth_token: str = SANDBOX_AUTH_TOKEN,
        host: str = "127.0.0.1",
        port: int = 0,
        max_file_size: int = MAX_MEDIA_FILE_SIZE,
        latency_ms: float = 0.0,
        faults: Mapping[int, str] | None = None,
        fault_rate: float = 0.0,
        fault_seed: int | None = None,
        message_faults: Mapping[int, str] | None = None,
        hang_seconds: float = 30.0,
        delivery_seconds: float = 1.0,
        rate_limit: tuple[int, float] | None = None,
        max_in_flight: int | None = None,
        read_timeout: float = 10.0,
    ) -> None:
        self.auth_id = auth_id
        self.auth_token = auth_token
        self.max_file_size = max_file_size
        self.latency = latency_ms / 1000
        self.hang_seconds = hang_seconds
        self.delivery_seconds = delivery_seconds
        self.read_timeout = read_timeout
        self._limits = AccountLimits(rate_limit, max_in_flight)
        self._in_flight = 0
        self.peak_in_flight = 0
        """The most requests the sandbox was answering at once."""
        self._api_busy: tuple[float, float] | None = None
        """When the first API request arrived and when the last API answer went (monotonic)."""
        self._fault_plans = {
            "media": FaultPlan(faults, rate=fault_rate, seed=fault_seed),
            "message": FaultPlan(message_faults, kinds=MESSAGE_FAULT_KINDS),
            "status": FaultPlan(None, kinds=STATUS_FAULT_KINDS, random_kinds=()),
        }
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._clock_offset = timedelta()
        self._media: dict[str, StoredMedia] = {}
        self._used_media: set[str] = set()
        self._messages: dict[str, StoredMessage] = {}
        self._requests: list[SandboxRequest] = []
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
            (
                "GET",
                re.compile(r"/Account/(?P<auth_id>[^/]+)/Media/(?P<media_id>[^/]+)"),
                self._media_file,
                False,
            ),
        ]
        self._server = _Server((host, port), _handler_for(self))
        self._thread: threading.Thread | None = None
        self._serving = False

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL to put in the connection's host, e.g. ``http://127.0.0.1:40123``."""
        host, port = str(self._server.server_address[0]), self._server.server_address[1]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def connection_json(self, *, password: str | None = None, **extra: Any) -> str:
        """An ``AIRFLOW_CONN_<ID>`` value (JSON form) for a ``plivo`` connection to this sandbox.

        :param password: a token other than the sandbox's, to see a wrong one refused.
        :param extra: the connection's extras, e.g. ``timeout=2``.
        """
        token = self.auth_token if password is None else password
        conn: dict[str, Any] = {"conn_type": "plivo", "login": self.auth_id, "password": token}
        conn["host"] = self.url
        if extra:
            conn["extra"] = extra
        return json.dumps(conn)

    def start(self) -> PlivoSandbox:
        """Serve in a background thread; return self."""
        if self._thread is None:
            self._thread = threading.Thread(target=self.serve_forever, name="plivo-sandbox", daemon=True)
            self._serving = True
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until :meth:`stop` (used by the ``plivo-sandbox`` command)."""
        self._serving = True
        self._server.serve_forever()

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._stopping.set()
        if self._serving:
            self._server.shutdown()
            self._serving = False
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> PlivoSandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- what tests look at -------------------------------------------------------------------

    @property
    def media(self) -> dict[str, StoredMedia]:
        """Every stored media file by media ID (a snapshot)."""
        with self._lock:
            return dict(self._media)

    @property
    def requests(self) -> list[SandboxRequest]:
        """Every request answered so far, in order (a snapshot)."""
        with self._lock:
            return list(self._requests)

    @property
    def messages(self) -> dict[str, StoredMessage]:
        """Every message sent so far, by message UUID (a snapshot)."""
        with self._lock:
            return dict(self._messages)

    @property
    def faults_injected(self) -> list[tuple[int, str]]:
        """(upload request number, kind) for every fault injected into uploads so far."""
        return list(self._fault_plans["media"].injected)

    def script_faults(self, faults: Mapping[int, str], *, endpoint: str = "media") -> None:
        """Script faults for ``media`` (upload), ``message`` (send) or ``status`` (reads of message
        status) requests: number -> kind.

        Numbers are 1-based and counted from the sandbox's start, per endpoint.
        """
        self._fault_plans[endpoint].script(faults)

    def now(self) -> datetime:
        """The sandbox clock: real UTC time plus however far :meth:`advance_clock` moved it."""
        with self._lock:
            return datetime.now(timezone.utc) + self._clock_offset

    def advance_clock(self, delta: timedelta) -> None:
        """Move the sandbox clock forward, e.g. past the 6-hour media expiry."""
        with self._lock:
            self._clock_offset += delta

    def count_requests(self, method: str, path_suffix: str) -> int:
        """How many ``method`` requests to a path ending in ``path_suffix`` were answered."""
        return sum(1 for r in self.requests if r.method == method and r.path.endswith(path_suffix))

    # -- what the request handler calls ------------------------------------------------------

    def handle(self, method: str, target: str, headers: Any, rfile: BodyStream) -> Response:
        """Read the body of one request from ``rfile``, answer it and record it.

        It counts as in flight from then until answered, latency included.
        """
        arrived = time.monotonic()
        with self._lock:
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
        call = None
        try:
            response, call = self._dispatch(method, target, headers, rfile)
            if self.latency:
                self.wait(self.latency)
            return response
        finally:
            if call is not None and call.admitted:
                self._limits.release()
            with self._lock:
                self._in_flight -= 1
                if target.startswith("/v1/"):
                    first = self._api_busy[0] if self._api_busy else arrived
                    self._api_busy = (min(first, arrived), time.monotonic())

    def wait(self, seconds: float) -> None:
        """Sleep up to ``seconds``, waking early when the sandbox stops, so no wait outlives it."""
        self._stopping.wait(seconds)

    # -- dispatch -----------------------------------------------------------------------------

    def _dispatch(self, method: str, target: str, headers: Any, rfile: BodyStream) -> tuple[Response, _Call]:
        """Answer one request and record it in :attr:`requests`."""
        parts = urlsplit(target)
        call = _Call(method, parts.path, parse_qs(parts.query), headers)
        try:
            call.body = read_body(headers, rfile)
        except SandboxHTTPError as err:
            # The rest of the body is unread: it must not be taken for the next request.
            response = replace(error_response(err.status, err.message), close=True)
        else:
            response = self._answer(call)
        request = SandboxRequest(
            method,
            parts.path,
            0 if response.drop or response.hang else response.status,
            tuple(call.file_names),
            headers.get("User-Agent", ""),
            call.json,
            call.fault,
        )
        with self._lock:
            self._requests.append(request)
        return response, call

    def _answer(self, call: _Call) -> Response:
        if call.path.startswith("/v1/"):
            # Plivo promises no Retry-After on these 429s, so neither does the sandbox.
            if not self._limits.admit():
                return error_response(429, "too many requests")
            call.admitted = True
        for route_method, pattern, handler, needs_auth in self._routes:
            match = pattern.fullmatch(call.path)
            if route_method != call.method or not match:
                continue
            call.match = match
            try:
                if needs_auth:
                    self._authenticate(call.headers.get("Authorization", ""), match["auth_id"])
                return handler(call)
            except SandboxHTTPError as err:
                return error_response(err.status, err.message)
            except Exception as err:  # a sandbox bug: answer it rather than drop the connection
                return error_response(500, f"sandbox error: {err!r}")
        return error_response(404, f"{call.method} {call.path} is not a Plivo API path")

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

    def _upload_media(self, call: _Call) -> Response:
        try:
            parts = parse_form_data(call.headers.get("Content-Type", ""), call.body)
        except MultipartError as err:
            raise SandboxHTTPError(400, str(err)) from None
        call.file_names.extend(part.file_name for part in parts)
        fault = call.fault = self._fault_plans["media"].next_request()
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
            if len(part.data) > self.max_file_size:
                raise SandboxHTTPError(
                    400,
                    f"{part.file_name}: {len(part.data)} bytes exceeds the {self.max_file_size} byte limit",
                )
        failed_first = faults.fails_first_object(fault)
        now = self.now()
        stored = [
            StoredMedia(str(uuid.uuid4()), part.file_name, part.content_type, part.data, now)
            for part in parts[1 if failed_first else 0 :]
        ]
        with self._lock:
            self._media.update((media.media_id, media) for media in stored)
        objects = [{**self._describe(media), "status": "success", "status_code": 201} for media in stored]
        if failed_first:
            objects.insert(0, faults.failed_object(parts[0].file_name, parts[0].content_type))
        return faults.after_acting(fault, json_response(200, {"api_id": new_api_id(), "objects": objects}))

    def _get_media(self, call: _Call) -> Response:
        media = self._live_media().get(call.params["media_id"])
        if media is None:
            raise SandboxHTTPError(404, "media not found")
        return json_response(200, {"api_id": new_api_id(), **self._describe(media)})

    def _list_media(self, call: _Call) -> Response:
        newest_first = sorted(self._live_media().values(), key=lambda m: m.upload_time, reverse=True)
        return self._page(call, [self._describe(media) for media in newest_first])

    def _live_media(self) -> dict[str, StoredMedia]:
        """The media Plivo still holds: used in a message, or uploaded within 6 hours."""
        cutoff = self.now() - timedelta(hours=MEDIA_EXPIRY_HOURS)
        with self._lock:
            return {
                media_id: media
                for media_id, media in self._media.items()
                if media_id in self._used_media or media.upload_time >= cutoff
            }

    # -- messages -----------------------------------------------------------------------------

    def _send_message(self, call: _Call) -> Response:
        try:
            call.json = json.loads(call.body or b"null")
        except ValueError:
            raise SandboxHTTPError(400, "the body must be JSON") from None
        if not isinstance(call.json, dict):
            raise SandboxHTTPError(400, "the body must be a JSON object")
        fault = call.fault = self._fault_plans["message"].next_request()
        if (answer := faults.answer_instead(fault)) is not None:
            return answer
        send = read_send(call.json)
        live = self._live_media()
        if missing := [media_id for media_id in send.media_ids if media_id not in live]:
            raise SandboxHTTPError(400, f"media not found or expired: {', '.join(missing)}")
        now = self.now()
        units = records.message_units(send.text, send.message_type)
        messages = [
            StoredMessage(
                message_uuid=str(uuid.uuid4()),
                from_number=send.src,
                to_number=number,
                text=send.text,
                message_type=send.message_type,
                media_ids=send.media_ids,
                queued_at=now,
                final_state=fate_of(number).final_state,
                error_code=fate_of(number).error_code,
                units=units,
            )
            for number in send.numbers
        ]
        with self._lock:
            self._used_media.update(send.media_ids)
            self._messages.update((m.message_uuid, m) for m in messages)
        body: dict[str, Any] = {
            "api_id": new_api_id(),
            "message": "message(s) queued",
            "message_uuid": [m.message_uuid for m in messages],
        }
        if send.invalid_numbers:
            body["invalid_number"] = list(send.invalid_numbers)
        return faults.after_acting(fault, json_response(202, body))

    def _get_message(self, call: _Call) -> Response:
        if (answer := self._status_fault(call)) is not None:
            return answer
        message = self._message(call)
        return json_response(200, {"api_id": new_api_id(), **self._message_record(message)})

    def _list_messages(self, call: _Call) -> Response:
        if (answer := self._status_fault(call)) is not None:
            return answer
        wanted = _message_filter(call.query, self._message_record)
        matching = [message for message in reversed(self.messages.values()) if wanted(message)]
        return self._page(call, matching, render=self._message_record)

    def _status_fault(self, call: _Call) -> Response | None:
        """The answer a scripted fault gives a status read instead of its own, if any."""
        call.fault = self._fault_plans["status"].next_request()
        return faults.answer_instead(call.fault)

    def _message_media(self, call: _Call) -> Response:
        message = self._message(call)
        stored = self.media
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
        return self._page(call, objects)

    def _message(self, call: _Call) -> StoredMessage:
        message = self.messages.get(call.params["message_uuid"])
        if message is None:
            raise SandboxHTTPError(404, "message not found")
        return message

    def _message_record(self, message: StoredMessage) -> dict[str, Any]:
        """Plivo's record of ``message`` as it stands on the sandbox clock now."""
        fate = Fate(message.final_state, message.error_code)
        now = progress(fate, message.queued_at, self.now(), timedelta(seconds=self.delivery_seconds))
        total_rate, total_amount = records.price(message.message_type, message.units)
        return {
            "error_code": now.error_code,
            "error_message": error_message(now.error_code),
            "from_number": message.from_number.removeprefix("+"),
            "message_direction": "outbound",
            "message_sent_time": records.plivo_time(now.sent_at) if now.sent_at else None,
            "message_state": now.state,
            "message_time": records.plivo_time(message.queued_at),
            "message_type": message.message_type,
            "message_updated_time": records.plivo_time(now.updated_at),
            "message_uuid": message.message_uuid,
            "resource_uri": f"/v1/Account/{self.auth_id}/Message/{message.message_uuid}/",
            "to_number": message.to_number.removeprefix("+"),
            "total_amount": total_amount,
            "total_rate": total_rate,
            "units": message.units,
        }

    # -- shared -------------------------------------------------------------------------------

    def _page(
        self, call: _Call, objects: Sequence[Any], render: Callable[[Any], dict[str, Any]] = dict
    ) -> Response:
        """Answer one page of ``objects`` (as records by ``render``) as ``limit`` and ``offset`` ask."""
        limit = _int_param(call.query, "limit", MEDIA_PAGE_SIZE)
        offset = _int_param(call.query, "offset", 0)
        if not 1 <= limit <= MEDIA_PAGE_SIZE or offset < 0:
            raise SandboxHTTPError(400, f"limit must be 1 to {MEDIA_PAGE_SIZE} and offset at least 0")
        listed = records.page(call.path, call.query, objects, limit=limit, offset=offset, render=render)
        return json_response(200, {"api_id": new_api_id(), **listed})

    def _stats(self, call: _Call) -> Response:
        """Counts for clients in other processes (``plivo-sandbox``): not part of Plivo's API."""
        requests = [r for r in self.requests if r.path.startswith("/v1/")]
        statuses = Counter(str(request.status) for request in requests)
        return json_response(
            200,
            {
                "requests": len(requests),
                "statuses": statuses,
                "media": len(self.media),
                "messages": len(self.messages),
                "peak_in_flight": self.peak_in_flight,
                "api_seconds": self._api_busy[1] - self._api_busy[0] if self._api_busy else 0.0,
            },
        )

    def _media_file(self, call: _Call) -> Response:
        media = self._live_media().get(call.params["media_id"])
        if media is None or call.params["auth_id"] != self.auth_id:
            raise SandboxHTTPError(404, "media not found")
        return Response(200, media.data, media.content_type)

    def _media_url(self, media_id: str) -> str:
        return f"{self.url}/Account/{self.auth_id}/Media/{media_id}"

    def _describe(self, media: StoredMedia) -> dict[str, Any]:
        return {
            "content_type": media.content_type,
            "file_name": media.file_name,
            "media_id": media.media_id,
            "size": len(media.data),
            "upload_time": records.upload_time(media.upload_time),
            "media_url": self._media_url(media.media_id),
        }


def _int_param(query: dict[str, list[str]], name: str, default: int) -> int:
    try:
        return int(query[name][0]) if name in query else default
    except ValueError:
        raise SandboxHTTPError(400, f"{name} must be a whole number") from None


def _message_filter(
    query: dict[str, list[str]], record_of: Callable[[StoredMessage], dict[str, Any]]
) -> Callable[[StoredMessage], bool]:
    """Whether a message passes the list's filters (its record now, from ``record_of``, is built
    only for filters on its state or error code); 400 for a malformed time."""
    bounds = [
        (_TIME_FILTERS[name], _filter_time(name, values[0]))
        for name, values in query.items()
        if name in _TIME_FILTERS
    ]
    fields = {name: values[0] for name, values in query.items() if name in _FIELD_FILTERS}

    def wanted(message: StoredMessage) -> bool:
        if not all(compare(message.queued_at, bound) for compare, bound in bounds):
            return False
        fixed = {"message_direction": "outbound", "message_type": message.message_type}
        record = record_of(message) if fields.keys() - fixed.keys() else fixed
        return all(str(record[name]) == value for name, value in fields.items())

    return wanted


def _filter_time(name: str, text: str) -> datetime:
    """A list filter's time, ``YYYY-MM-DD HH:MM[:ss[.uuuuuu]]`` in UTC."""
    for time_format in _FILTER_TIME_FORMATS:
        try:
            return datetime.strptime(text, time_format).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    raise SandboxHTTPError(400, f"{name} must read YYYY-MM-DD HH:MM[:ss[.uuuuuu]], not {text!r}")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 drops the SYNs of a burst of new connections, which
    # clients retransmit after a second: concurrent uploads would stall on the sandbox itself.
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about connections the client or a fault dropped; report anything else."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


def _handler_for(sandbox: PlivoSandbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "PlivoSandbox"
        # Headers and body go out in two writes: with Nagle's algorithm the body then waits for
        # the client's delayed ACK (40 ms on Linux), a stall Plivo's servers do not add.
        disable_nagle_algorithm = True
        timeout = sandbox.read_timeout

        def _handle(self) -> None:
            response = sandbox.handle(self.command, self.path, self.headers, self.rfile)
            if response.hang:
                sandbox.wait(sandbox.hang_seconds)
            if response.drop or response.hang:
                self._reset()
                return
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            if response.close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(response.body)

        def _reset(self) -> None:
            """Close with a TCP reset, as a dropped connection looks to the client."""
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()

        do_GET = do_POST = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test and task output clean; :attr:`PlivoSandbox.requests` records every request."""

    return Handler
