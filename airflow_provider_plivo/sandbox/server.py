"""A local HTTP server that speaks Plivo's wire format, for developing and testing DAGs offline.

It checks Basic auth like Plivo, keeps uploaded media in memory (serving each file's bytes at
its ``media_url``), accepts messages and moves them queued -> sent -> delivered on its own
clock, which tests can advance. Routes live in one table (``PlivoSandbox._routes``) so a new
endpoint is one method.

Test numbers whose messages do not get delivered, for exercising failure paths:

================  ===============  ==============================================
number            final state      ``error_code`` (Plivo's code)
================  ===============  ==============================================
``+15005550001``  ``undelivered``  ``80``: destination temporarily unavailable
``+15005550002``  ``failed``       ``50``: invalid destination number
``+15005550003``  ``rejected``     ``100``: prohibited by carrier
================  ===============  ==============================================
"""

from __future__ import annotations

import base64
import hmac
import json
import re
import socket
import struct
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from airflow_provider_plivo.limits import (
    MAX_FILES_PER_UPLOAD,
    MAX_MEDIA_FILE_SIZE,
    MAX_MEDIA_PER_MESSAGE,
    MAX_TEXT_LENGTH,
    MEDIA_EXPIRY_HOURS,
    MEDIA_PAGE_SIZE,
)
from airflow_provider_plivo.sandbox import faults
from airflow_provider_plivo.sandbox.faults import MESSAGE_FAULT_KINDS, FaultPlan
from airflow_provider_plivo.sandbox.multipart import MultipartError, parse_form_data
from airflow_provider_plivo.sandbox.rate_limit import SlidingWindow
from airflow_provider_plivo.sandbox.responses import (
    Response,
    SandboxHTTPError,
    error_response,
    json_response,
    new_api_id,
)

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
TEST_NUMBER_FATES: dict[str, tuple[str, str]] = {
    "+15005550001": ("undelivered", "80"),
    "+15005550002": ("failed", "50"),
    "+15005550003": ("rejected", "100"),
}
"""Destination number -> (final message state, Plivo error code); every other number is delivered."""


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
    """One message (one destination number) as the sandbox keeps it."""

    message_uuid: str
    from_number: str
    to_number: str
    text: str
    message_type: str
    media_ids: tuple[str, ...]
    queued_at: datetime
    final_state: str
    error_code: str | None


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
    body: bytes
    match: re.Match[str] | None = None
    file_names: list[str] = field(default_factory=list)
    json: Any = None
    fault: str | None = None

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
    ) -> None:
        self.auth_id = auth_id
        self.auth_token = auth_token
        self.max_file_size = max_file_size
        self.latency = latency_ms / 1000
        self.hang_seconds = hang_seconds
        self.delivery_seconds = delivery_seconds
        self._rate_limit = SlidingWindow(*rate_limit) if rate_limit else None
        self._in_flight = 0
        self.peak_in_flight = 0
        """The most requests the sandbox was answering at once."""
        self._fault_plans = {
            "media": FaultPlan(faults, rate=fault_rate, seed=fault_seed),
            "message": FaultPlan(message_faults, kinds=MESSAGE_FAULT_KINDS),
        }
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._clock_offset = timedelta()
        self._media: dict[str, StoredMedia] = {}
        self._used_media: set[str] = set()
        self._messages: dict[str, StoredMessage] = {}
        self._requests: list[SandboxRequest] = []
        account = r"/v1/Account/(?P<auth_id>[^/]+)"
        self._routes: list[tuple[str, re.Pattern[str], Route, bool]] = [
            ("POST", re.compile(account + r"/Media/"), self._upload_media, True),
            ("GET", re.compile(account + r"/Media/"), self._list_media, True),
            ("GET", re.compile(account + r"/Media/(?P<media_id>[^/]+)/"), self._get_media, True),
            ("POST", re.compile(account + r"/Message/"), self._send_message, True),
            ("GET", re.compile(r"/_sandbox/stats"), self._stats, False),
            ("GET", re.compile(account + r"/Message/(?P<message_uuid>[^/]+)/"), self._get_message, True),
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
        """Script faults for ``media`` (upload) or ``message`` (send) requests: number -> kind.

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

    def handle(self, method: str, target: str, headers: Any, body: bytes) -> Response:
        """Answer one request and record it; it counts as in flight until answered, latency included."""
        with self._lock:
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
        try:
            response = self._dispatch(method, target, headers, body)
            if self.latency:
                self.wait(self.latency)
            return response
        finally:
            with self._lock:
                self._in_flight -= 1

    def wait(self, seconds: float) -> None:
        """Sleep up to ``seconds``, waking early when the sandbox stops, so no wait outlives it."""
        self._stopping.wait(seconds)

    # -- dispatch -----------------------------------------------------------------------------

    def _dispatch(self, method: str, target: str, headers: Any, body: bytes) -> Response:
        """Answer one request and record it in :attr:`requests`."""
        parts = urlsplit(target)
        call = _Call(method, parts.path, parse_qs(parts.query), headers, body)
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
        return response

    def _answer(self, call: _Call) -> Response:
        if self._rate_limit is not None and call.path.startswith("/v1/") and not self._rate_limit.admit():
            return error_response(429, "too many requests")
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
            StoredMedia(uuid.uuid4().hex, part.file_name, part.content_type, part.data, now)
            for part in parts[1 if failed_first else 0 :]
        ]
        with self._lock:
            self._media.update((media.media_id, media) for media in stored)
        objects = [{**self._describe(media), "status": "success", "status_code": 201} for media in stored]
        if failed_first:
            objects.insert(0, faults.failed_object(parts[0].file_name, parts[0].content_type))
        return faults.after_acting(fault, json_response(200, {"api_id": new_api_id(), "objects": objects}))

    def _get_media(self, call: _Call) -> Response:
        media = self.media.get(call.params["media_id"])
        if media is None:
            raise SandboxHTTPError(404, "media not found")
        return json_response(200, {"api_id": new_api_id(), **self._describe(media)})

    def _list_media(self, call: _Call) -> Response:
        limit = _int_param(call.query, "limit", MEDIA_PAGE_SIZE)
        offset = _int_param(call.query, "offset", 0)
        if not 1 <= limit <= MEDIA_PAGE_SIZE or offset < 0:
            raise SandboxHTTPError(400, f"limit must be 1 to {MEDIA_PAGE_SIZE} and offset at least 0")
        newest_first = sorted(self.media.values(), key=lambda m: m.upload_time, reverse=True)
        total = len(newest_first)

        def page(at: int) -> str:
            return f"{call.path}?limit={limit}&offset={at}"

        meta = {
            "limit": limit,
            "offset": offset,
            "total_count": total,
            "next": page(offset + limit) if offset + limit < total else None,
            "previous": page(max(0, offset - limit)) if offset > 0 else None,
        }
        objects = [self._describe(m) for m in newest_first[offset : offset + limit]]
        return json_response(200, {"api_id": new_api_id(), "meta": meta, "objects": objects})

    def _unusable_media(self, media_ids: list[str]) -> list[str]:
        """The IDs among ``media_ids`` that are unknown, or expired: unused for 6 hours."""
        cutoff = self.now() - timedelta(hours=MEDIA_EXPIRY_HOURS)
        with self._lock:
            return [
                media_id
                for media_id in media_ids
                if media_id not in self._media
                or (media_id not in self._used_media and self._media[media_id].upload_time < cutoff)
            ]

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
        request = call.json
        src, powerpack = request.get("src"), request.get("powerpack_uuid")
        numbers = [n for n in str(request.get("dst") or "").split("<") if n]
        text = request.get("text") or ""
        media_ids = list(request.get("media_ids") or [])
        media_count = len(media_ids) + len(request.get("media_urls") or [])
        message_type = request.get("type") or "sms"
        if not src and not powerpack:
            raise SandboxHTTPError(400, "src or powerpack_uuid is required")
        if not numbers:
            raise SandboxHTTPError(400, "dst is required")
        if media_count > MAX_MEDIA_PER_MESSAGE:
            raise SandboxHTTPError(400, f"too many media: {media_count}; at most {MAX_MEDIA_PER_MESSAGE}")
        if len(text) > MAX_TEXT_LENGTH:
            raise SandboxHTTPError(400, f"text exceeds {MAX_TEXT_LENGTH} characters")
        if media_count and message_type != "mms":
            raise SandboxHTTPError(400, "media can only be sent with type mms")
        if message_type == "mms" and any(not n.startswith("+1") for n in numbers):
            raise SandboxHTTPError(400, "mms is supported only for US and Canada numbers")
        if missing := self._unusable_media(media_ids):
            raise SandboxHTTPError(400, f"media not found or expired: {', '.join(missing)}")
        now = self.now()
        messages = [
            StoredMessage(
                message_uuid=str(uuid.uuid4()),
                from_number=src or "",
                to_number=number,
                text=text,
                message_type=message_type,
                media_ids=tuple(media_ids),
                queued_at=now,
                final_state=TEST_NUMBER_FATES.get(number, ("delivered", ""))[0],
                error_code=TEST_NUMBER_FATES.get(number, ("", None))[1],
            )
            for number in numbers
        ]
        with self._lock:
            self._used_media.update(media_ids)
            self._messages.update((m.message_uuid, m) for m in messages)
        uuids = [m.message_uuid for m in messages]
        body = {"api_id": new_api_id(), "message": "message(s) queued", "message_uuid": uuids}
        return faults.after_acting(fault, json_response(202, body))

    def _get_message(self, call: _Call) -> Response:
        message = self.messages.get(call.params["message_uuid"])
        if message is None:
            raise SandboxHTTPError(404, "message not found")
        elapsed = (self.now() - message.queued_at).total_seconds()
        if elapsed < self.delivery_seconds / 2:
            state, error_code = "queued", None
        elif elapsed < self.delivery_seconds:
            state, error_code = "sent", None
        else:
            state, error_code = message.final_state, message.error_code
        return json_response(
            200,
            {
                "api_id": new_api_id(),
                "message_uuid": message.message_uuid,
                "from_number": message.from_number,
                "to_number": message.to_number,
                "message_state": state,
                "message_type": message.message_type,
                "message_direction": "outbound",
                "message_time": message.queued_at.isoformat(),
                "error_code": error_code,
            },
        )

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
            },
        )

    def _media_file(self, call: _Call) -> Response:
        media = self.media.get(call.params["media_id"])
        if media is None or call.params["auth_id"] != self.auth_id:
            raise SandboxHTTPError(404, "media not found")
        return Response(200, media.data, media.content_type)

    def _describe(self, media: StoredMedia) -> dict[str, Any]:
        return {
            "content_type": media.content_type,
            "file_name": media.file_name,
            "media_id": media.media_id,
            "size": len(media.data),
            "upload_time": media.upload_time.isoformat().replace("+00:00", "Z"),
            "media_url": f"{self.url}/Account/{self.auth_id}/Media/{media.media_id}",
        }


def _int_param(query: dict[str, list[str]], name: str, default: int) -> int:
    try:
        return int(query[name][0]) if name in query else default
    except ValueError:
        raise SandboxHTTPError(400, f"{name} must be a whole number") from None


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

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            response = sandbox.handle(self.command, self.path, self.headers, body)
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
