"""Split a ``multipart/form-data`` body (RFC 7578) into its parts, as Plivo's upload endpoint reads it.

Our own parser, not python-multipart: that package is no direct dependency of
apache-airflow-core (it arrives only through FastAPI's extras), so relying on it would add a
runtime dependency for a few dozen lines. The sandbox holds each body whole anyway, and a split on
the delimiter is binary-safe: file bytes are never decoded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["FormPart", "MultipartError", "parse_form_data"]

_PARAM = re.compile(r';\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')
_MAX_BOUNDARY = 70
"""RFC 2046's longest boundary."""


@dataclass(frozen=True)
class FormPart:
    """One part of a form: its field name, file name ("" when not a file), type and bytes."""

    name: str
    file_name: str
    content_type: str
    data: bytes


class MultipartError(ValueError):
    """The body is not the ``multipart/form-data`` its ``Content-Type`` promised."""


def parse_form_data(content_type: str, body: bytes) -> list[FormPart]:
    """Return the parts of ``body`` in order; raise :class:`MultipartError` saying what is wrong."""
    kind, params = _header_value(content_type)
    if kind != "multipart/form-data":
        raise MultipartError(f"the body must be multipart/form-data, not {kind or 'untyped'}")
    boundary = params.get("boundary", "")
    if not 1 <= len(boundary) <= _MAX_BOUNDARY:
        raise MultipartError("multipart/form-data needs a boundary of 1 to 70 characters")
    # The CRLF before a delimiter belongs to it, not to the data; prefixing one lets the first
    # delimiter match the same way.
    body = b"\r\n" + body
    parts: list[FormPart] = []
    opened_at: int | None = None
    for number, (start, end, close) in enumerate(_delimiters(body, boundary.encode())):
        if opened_at is not None:
            parts.append(_part(number, body[opened_at:start]))
        if close:
            return parts
        opened_at = end
    if opened_at is None:
        raise MultipartError("malformed multipart body: the boundary never occurs")
    raise MultipartError("malformed multipart body: no closing boundary (was it cut short?)")


def _delimiters(body: bytes, boundary: bytes) -> Iterator[tuple[int, int, bool]]:
    """(start, end, closes) of each delimiter in ``body``: CRLF, "--", the boundary, then CRLF
    (after optional spaces or tabs) or "--" to close. Anything else that merely starts like a
    delimiter is data. (A search, not a regular expression: each body has its own boundary, and
    compiling one per request cost the sandbox a sixth of its time.)"""
    marker = b"\r\n--" + boundary
    at = body.find(marker)
    while at != -1:
        after = at + len(marker)
        if body.startswith(b"--", after):
            yield at, after + 2, True
        else:
            line_end = after
            while body[line_end : line_end + 1] in (b" ", b"\t"):
                line_end += 1
            if body.startswith(b"\r\n", line_end):
                yield at, line_end + 2, False
                at = body.find(marker, line_end + 2)
                continue
        at = body.find(marker, at + 1)


def _part(number: int, segment: bytes) -> FormPart:
    """Parse one part: headers, a blank line, the data."""
    if segment.startswith(b"\r\n"):
        head, blank, data = b"", b"\r\n", segment[2:]
    else:
        head, blank, data = segment.partition(b"\r\n\r\n")
    if not blank:
        raise MultipartError(f"malformed multipart body: part {number} has no blank line after its headers")
    headers = {}
    for line in _decode(head).split("\r\n") if head else []:
        key, colon, value = line.partition(":")
        if not colon:
            raise MultipartError(f"malformed multipart body: part {number} has a header line {line!r}")
        headers[key.strip().lower()] = value.strip()
    disposition, params = _header_value(headers.get("content-disposition", ""))
    if disposition != "form-data" or "name" not in params:
        raise MultipartError(f"part {number} lacks 'Content-Disposition: form-data; name=...'")
    return FormPart(
        name=params["name"],
        file_name=params.get("filename", ""),
        content_type=headers.get("content-type", "application/octet-stream"),
        data=data,
    )


def _header_value(header: str) -> tuple[str, dict[str, str]]:
    """Split ``type; key=value; key="quoted value"`` into the lowercased type and its parameters.

    An RFC 5987 ``key*=UTF-8''...`` form wins over the plain ``key`` (older clients send both).
    """
    kind, _, rest = header.partition(";")
    params: dict[str, str] = {}
    extended: dict[str, str] = {}
    for key, raw in _PARAM.findall(";" + rest):
        value = raw.strip()
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        if key.endswith("*"):
            charset, _, encoded = value.partition("''")
            try:
                extended[key[:-1].lower()] = unquote(encoded, encoding=charset or "utf-8", errors="replace")
            except LookupError:
                raise MultipartError(f"unknown charset {charset!r} in {key}") from None
        else:
            params[key.lower()] = value
    return kind.strip().lower(), {**params, **extended}


def _decode(head: bytes) -> str:
    """Part headers are UTF-8 in practice (file names with accents); fall back byte for byte."""
    try:
        return head.decode()
    except UnicodeDecodeError:
        return head.decode("latin-1")
