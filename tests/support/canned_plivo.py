"""A loopback server of our own that answers each request as a test says, for bodies the sandbox
never writes (Plivo's recorded oddities: ``"meta": null``, a list for an object, a 204 with no
body, a masked ``to_number``)."""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

Answer = tuple[int, Any]
"""HTTP status and body: JSON-able (sent as JSON), bytes (sent as they are), or None (no body)."""


@contextmanager
def canned_plivo(
    plivo_env: Callable[..., None], answer: Callable[[str, str], Answer]
) -> Iterator[list[tuple[str, str]]]:
    """``plivo_default`` pointed at a loopback server that answers each request with
    ``answer(method, path)``; yields the ``(method, path)`` of every request it served."""
    served: list[tuple[str, str]] = []

    class Canned(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            served.append((self.command, self.path))
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            status, body = answer(self.command, self.path)
            data = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            if status != 204:
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if status != 204:
                self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _answer

        def log_message(self, *args: object) -> None:
            pass

    with ThreadingHTTPServer(("127.0.0.1", 0), Canned) as server:
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        plivo_env(f"http://127.0.0.1:{server.server_address[1]}", login="MA1", password="canned-auth-token")
        try:
            yield served
        finally:
            server.shutdown()
