"""The sandbox's transport: HTTP/1.1 on a socket, in front of :class:`~.api.SandboxAPI`.

It reads each request within limits and a deadline (:mod:`~airflow_provider_plivo.sandbox.bodies`),
hands the request to the API layer and writes the answer, its ``Date`` header read from the
sandbox clock, or does what only a socket can: reset the connection (``reset``, ``lost``) or hold
it silent first (``hang``).
"""

from __future__ import annotations

import io
import socket
import struct
import sys
import threading
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from airflow_provider_plivo.sandbox.bodies import DeadlineReader, read_body
from airflow_provider_plivo.sandbox.responses import SandboxHTTPError

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from airflow_provider_plivo.sandbox.api import SandboxAPI
    from airflow_provider_plivo.sandbox.responses import Response

__all__ = ["POLL_INTERVAL", "HTTPTransport"]

POLL_INTERVAL = 0.05
"""Seconds between the serving loop's checks for a stop: socketserver's default of 0.5 s made
every stop wait up to half a second, which a test suite that starts a sandbox per test pays each time."""


class HTTPTransport:
    """
    Serves ``api`` over HTTP on ``(host, port)``; the port is bound on construction.

    :param read_timeout: seconds a connection may stay silent mid-request before it is cut off.
    :param request_deadline: seconds a whole request (line, headers, body) may take to arrive.
    :param hang_seconds: how long a ``hang`` answer keeps the client waiting.
    :param wait: sleeps up to the given seconds, waking early when the sandbox stops.
    :param clock: the sandbox clock, which every answer's ``Date`` header reads (not the host's).
    """

    def __init__(
        self,
        api: SandboxAPI,
        *,
        host: str,
        port: int,
        read_timeout: float,
        request_deadline: float,
        hang_seconds: float,
        wait: Callable[[float], object],
        clock: Callable[[], datetime],
    ) -> None:
        handler = _handler_for(
            api,
            read_timeout=read_timeout,
            request_deadline=request_deadline,
            hang_seconds=hang_seconds,
            wait=wait,
            clock=clock,
        )
        self._server = _Server((host, port), handler)
        self._thread: threading.Thread | None = None
        self._serving = False

    @property
    def url(self) -> str:
        host, port = str(self._server.server_address[0]), self._server.server_address[1]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self) -> None:
        """Serve in a background thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self.serve_forever, name="plivo-sandbox", daemon=True)
            self._serving = True
            self._thread.start()

    def serve_forever(self) -> None:
        """Serve in the calling thread until :meth:`stop`."""
        self._serving = True
        self._server.serve_forever(poll_interval=POLL_INTERVAL)

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._serving:
            self._server.shutdown()
            self._serving = False
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._server.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 drops the SYNs of a burst of new connections, which
    # clients retransmit after a second: concurrent uploads would stall on the sandbox itself.
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about connections the client or a fault dropped; report anything else."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


def _handler_for(
    api: SandboxAPI,
    *,
    read_timeout: float,
    request_deadline: float,
    hang_seconds: float,
    wait: Callable[[float], object],
    clock: Callable[[], datetime],
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "PlivoSandbox"
        # Headers and body go out in two writes: with Nagle's algorithm the body then waits for
        # the client's delayed ACK (40 ms on Linux), a stall Plivo's servers do not add.
        disable_nagle_algorithm = True
        timeout = read_timeout

        def setup(self) -> None:
            super().setup()
            self._reader = DeadlineReader(
                self.connection, read_timeout=read_timeout, deadline=request_deadline
            )
            self.rfile = io.BufferedReader(self._reader)

        def handle_one_request(self) -> None:
            # A request cut off by its deadline mid-headers ends here unanswered (http.server
            # closes the connection on a timeout), as a server does with a slowloris client.
            self._reader.reset()
            super().handle_one_request()

        def _handle(self) -> None:
            target = urlsplit(self.path)
            # In flight from the first byte of the body until answered, latency included.
            with api.in_flight(target.path):
                response = self._answer(target.path, target.query)
            if response.hang:
                wait(hang_seconds)
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

        def _answer(self, path: str, query: str) -> Response:
            headers = dict(self.headers.items())
            try:
                body = read_body(self.headers, self.rfile)
            except SandboxHTTPError as err:
                return api.refuse(self.command, path, headers, err)
            finally:
                self._reader.reset()  # the answer is written with the plain read timeout
            with body:
                return api.handle(self.command, path, parse_qs(query), headers, body)

        def _reset(self) -> None:
            """Close with a TCP reset, as a dropped connection looks to the client."""
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()

        do_GET = do_POST = do_DELETE = _handle

        def date_time_string(self, timestamp: float | None = None) -> str:
            """The ``Date`` header from the sandbox clock, so a client sees Plivo's time, not its own."""
            return formatdate(clock().timestamp() if timestamp is None else timestamp, usegmt=True)

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test and task output clean; :attr:`PlivoSandbox.requests` records every request."""

    return Handler
