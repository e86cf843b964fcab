"""Read a request's body the way a careful server does: within limits, or not at all.

A bad or huge ``Content-Length`` is refused before a byte of the body is read; a chunked body
is decoded under the same cap; a client that stops sending is cut off by the socket's read
timeout. Every refusal closes the connection, as the unread rest of the body would otherwise be
taken for the next request.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from airflow_provider_plivo.sandbox.responses import SandboxHTTPError

__all__ = ["MAX_BODY_BYTES", "BodyStream", "read_body"]


class BodyStream(Protocol):
    """What a body is read from: the connection's buffered reader."""

    def read(self, size: int = -1, /) -> bytes: ...

    def readline(self, size: int = -1, /) -> bytes: ...


MAX_BODY_BYTES = 64 * 1024 * 1024
"""The largest body the sandbox reads: ten 2 MB files and their multipart framing fit many times."""
_CHUNK_SIZE_LINE = 1024
_HEX = re.compile(rb"[0-9a-fA-F]{1,16}")


def read_body(headers: Any, rfile: BodyStream, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body of the request whose ``headers`` were just read from ``rfile``.

    :raises SandboxHTTPError: 400 for a body that cannot be read, 408 when it stops arriving.
    """
    try:
        if "chunked" in headers.get("Transfer-Encoding", "").lower():
            return _read_chunked(rfile, limit)
        return _read_exactly(rfile, _content_length(headers, limit))
    except TimeoutError:
        raise SandboxHTTPError(408, "the request body stopped arriving: read timed out") from None


def _content_length(headers: Any, limit: int) -> int:
    values = set(headers.get_all("Content-Length") or [])
    if not values:
        return 0
    if len(values) > 1:
        raise SandboxHTTPError(400, f"conflicting Content-Length headers: {', '.join(sorted(values))}")
    text = values.pop().strip()
    if not (text.isascii() and text.isdigit()):
        raise SandboxHTTPError(400, f"Content-Length {text!r} is not a number of bytes")
    length = int(text)
    if length > limit:
        raise SandboxHTTPError(400, f"Content-Length {length} exceeds the {limit} byte limit")
    return length


def _read_exactly(rfile: BodyStream, length: int) -> bytes:
    data = rfile.read(length) if length else b""
    if len(data) < length:
        raise SandboxHTTPError(400, f"the body ended after {len(data)} of {length} bytes")
    return data


def _read_chunked(rfile: BodyStream, limit: int) -> bytes:
    body = bytearray()
    while True:
        size_text = rfile.readline(_CHUNK_SIZE_LINE).split(b";")[0].strip()
        if not _HEX.fullmatch(size_text):
            raise SandboxHTTPError(400, f"malformed chunked body: chunk size {size_text[:20]!r}")
        size = int(size_text, 16)
        if size == 0:
            break
        if len(body) + size > limit:
            raise SandboxHTTPError(400, f"chunked body exceeds the {limit} byte limit")
        body += _read_exactly(rfile, size)
        if rfile.read(2) != b"\r\n":
            raise SandboxHTTPError(400, "malformed chunked body: a chunk does not end with CRLF")
    while rfile.readline(_CHUNK_SIZE_LINE) not in (b"\r\n", b"\n", b""):
        pass  # trailer fields: nothing the sandbox uses
    return bytes(body)
