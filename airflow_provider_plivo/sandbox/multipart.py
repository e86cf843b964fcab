"""Split a ``multipart/form-data`` body (RFC 7578) into its parts with python-multipart, saying in
the sandbox's own words what is wrong with a malformed one.

python-multipart (the sandbox extra; Airflow's API server installs it too) does the parsing, fed
the body a piece at a time, so a body held in a file is never in memory whole. Around it this
module adds what Plivo's endpoint accepts and python-multipart does not: a preamble before the
first delimiter, and an RFC 8187 ``filename*=UTF-8''...``, which wins over the plain ``filename``
(older clients send both); one that cannot be read (no or an unknown charset, bad percent-encoding,
bytes its charset cannot decode) is refused, not guessed at. File bytes are never decoded.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING
from urllib.parse import unquote_to_bytes

try:
    from python_multipart.exceptions import MultipartParseError
    from python_multipart.multipart import MultipartParser, parse_options_header
except ImportError as err:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "the Plivo sandbox needs python-multipart: pip install 'airflow-provider-plivo[sandbox]'",
        name=err.name,
    ) from err

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["FormPart", "MultipartError", "parse_form_data"]

_MAX_BOUNDARY = 70
"""RFC 2046's longest boundary."""
_EXTENDED_FILE_NAME = re.compile(r";\s*filename\*\s*=\s*([^;]*)", re.IGNORECASE)
_EXT_VALUE = re.compile(r"([^']+)'[^']*'(.*)", re.DOTALL)
"""RFC 8187's ext-value: charset ' language ' percent-encoded value (the language may be empty)."""
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_READ_SIZE = 64 * 1024
"""Bytes fed to the parser at a time."""
_DIAGNOSIS_WINDOW = 64 * 1024
"""Bytes kept before the piece being parsed, to say which header line python-multipart refused."""
_QUIET = logging.getLogger(__name__ + ".python_multipart")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False
"""python-multipart logs a warning for every malformed body; the sandbox answers it with a 400."""


@dataclass(frozen=True)
class FormPart:
    """One part of a form: its field name, file name ("" when not a file), type and bytes.

    ``dropped`` counts the bytes past what the parser was asked to keep (see
    :func:`parse_form_data`): such a part's ``data`` is only its beginning.
    """

    name: str
    file_name: str
    content_type: str
    data: bytes
    dropped: int = 0

    @property
    def size(self) -> int:
        """The part's whole size in bytes, kept or not."""
        return len(self.data) + self.dropped


class MultipartError(ValueError):
    """The body is not the ``multipart/form-data`` its ``Content-Type`` promised."""


@dataclass
class _Parts:
    """What python-multipart's callbacks report, gathered into parts, keeping at most
    ``keep_bytes`` of each of the first ``keep_parts`` parts' data (None: no limit)."""

    keep_bytes: int | None = None
    keep_parts: int | None = None
    parts: list[FormPart] = field(default_factory=list)
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    data: list[bytes] = field(default_factory=list)
    kept: int = 0
    dropped: int = 0
    ended: bool = False

    def begin(self) -> None:
        self.headers, self.data, self.kept, self.dropped = [], [], 0, 0

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self.headers.append((data[start:end], b""))

    def header_value(self, data: bytes, start: int, end: int) -> None:
        name, value = self.headers[-1]
        self.headers[-1] = (name, value + data[start:end])

    def part_data(self, data: bytes, start: int, end: int) -> None:
        room = end - start if self.keep_bytes is None else max(0, self.keep_bytes - self.kept)
        if self.keep_parts is not None and len(self.parts) >= self.keep_parts:
            room = 0
        taken = min(end - start, room)
        if taken:
            self.data.append(data[start : start + taken])
            self.kept += taken
        self.dropped += end - start - taken

    def part_end(self) -> None:
        self.parts.append(_part(len(self.parts) + 1, self.headers, b"".join(self.data), self.dropped))

    def end(self) -> None:
        self.ended = True


def parse_form_data(
    content_type: str,
    body: bytes | IO[bytes],
    *,
    keep_bytes: int | None = None,
    keep_parts: int | None = None,
) -> list[FormPart]:
    """Return the parts of ``body`` (bytes, or a file read from where it stands) in order; raise
    :class:`MultipartError` saying what is wrong.

    :param keep_bytes: keep at most this many bytes of each part's data; the rest is only counted
        (:attr:`FormPart.dropped`), so a huge part costs no memory.
    :param keep_parts: keep the data of only this many parts; later ones are only counted.
    """
    kind, options = parse_options_header(content_type)
    # Media types and parameter names are case-insensitive (RFC 9110); python-multipart before
    # 0.0.34 (the newest on Python 3.10) keeps them as written.
    kind = kind.lower()
    params = {name.lower(): value for name, value in options.items()}
    if kind != b"multipart/form-data":
        raise MultipartError(f"the body must be multipart/form-data, not {kind.decode() or 'untyped'}")
    boundary = params.get(b"boundary", b"")
    if not 1 <= len(boundary) <= _MAX_BOUNDARY:
        raise MultipartError("multipart/form-data needs a boundary of 1 to 70 characters")
    found = _Parts(keep_bytes, keep_parts)
    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": found.begin,
            "on_header_field": found.header_field,
            "on_header_value": found.header_value,
            "on_part_data": found.part_data,
            "on_part_end": found.part_end,
            "on_end": found.end,
        },
    )
    parser.logger = _QUIET
    recent = b""
    for piece in _from_first_delimiter(io.BytesIO(body) if isinstance(body, bytes) else body, boundary):
        try:
            parser.write(piece)
        except MultipartParseError as err:
            window = recent + piece
            raise _diagnose(
                window, len(recent) + max(err.offset, 0), boundary, len(found.parts) + 1
            ) from None
        recent = (recent + piece)[-_DIAGNOSIS_WINDOW:]
    if not found.ended:
        raise MultipartError("malformed multipart body: no closing boundary (was it cut short?)")
    return found.parts


def _from_first_delimiter(stream: IO[bytes], boundary: bytes) -> Iterator[bytes]:
    """The body in pieces from its first delimiter on, the preamble before it skipped (RFC 2046
    says to ignore it) while holding no more of it than a delimiter's length."""
    dashed = b"--" + boundary
    pending, at_start = b"", True
    while True:
        piece = stream.read(_READ_SIZE)
        pending += piece
        start = _first_delimiter(pending, boundary, at_start=at_start)
        if start is not None:
            break
        if not piece:
            raise MultipartError("malformed multipart body: the boundary never occurs")
        keep = len(dashed) + 4  # a delimiter line may straddle two reads
        if len(pending) > keep:
            pending, at_start = pending[-keep:], False
    yield pending[start:]
    while piece := stream.read(_READ_SIZE):
        yield piece


def _first_delimiter(body: bytes, boundary: bytes, *, at_start: bool = True) -> int | None:
    """Where the first delimiter line (``--boundary`` then CRLF, or ``--`` to close) starts in
    ``body``; ``at_start``: ``body`` is the beginning of the request's body, where a delimiter
    needs no CRLF before it."""
    dashed = b"--" + boundary
    at = 0 if at_start and body.startswith(dashed) else body.find(b"\r\n" + dashed)
    while at != -1:
        line = at if body.startswith(dashed, at) else at + 2
        if body.startswith((b"\r\n", b"--"), line + len(dashed)):
            return line
        at = body.find(b"\r\n" + dashed, line + 1)
    return None


def _diagnose(window: bytes, error_at: int, boundary: bytes, number: int) -> MultipartError:
    """Say what is wrong with part ``number``'s headers, which python-multipart refused at
    ``error_at`` in ``window`` (the bytes just parsed, and some before them)."""
    dashed = b"--" + boundary
    begins = window.rfind(dashed, 0, error_at + 1)
    segment = window[begins + len(dashed) :] if begins != -1 else b""
    segment = segment.split(b"\r\n" + dashed, 1)[0]
    segment = segment.split(b"\r\n", 1)[1] if b"\r\n" in segment else b""
    if not segment.startswith(b"\r\n") and b"\r\n\r\n" not in segment:
        return MultipartError(f"malformed multipart body: part {number} has no blank line after its headers")
    for line in _decode(segment.split(b"\r\n\r\n", 1)[0]).split("\r\n"):
        if ":" not in line:
            return MultipartError(f"malformed multipart body: part {number} has a header line {line!r}")
    return MultipartError(f"malformed multipart body: part {number} has a malformed header")


def _part(number: int, raw_headers: list[tuple[bytes, bytes]], data: bytes, dropped: int) -> FormPart:
    headers = {_decode(name).strip().lower(): _decode(value).strip() for name, value in raw_headers}
    disposition_header = headers.get("content-disposition", "")
    # Latin-1 in and out keeps python-multipart's byte-for-byte header parsing; UTF-8 comes after.
    disposition, params = parse_options_header(disposition_header.encode().decode("latin-1"))
    if disposition != b"form-data" or b"name" not in params:
        raise MultipartError(f"part {number} lacks 'Content-Disposition: form-data; name=...'")
    file_name = _decode(params.get(b"filename", b""))
    if extended := _EXTENDED_FILE_NAME.search(disposition_header):
        file_name = _extended_file_name(extended[1].strip().strip('"'), number)
    return FormPart(
        name=_decode(params[b"name"]),
        file_name=file_name,
        content_type=headers.get("content-type", "application/octet-stream"),
        data=data,
        dropped=dropped,
    )


def _extended_file_name(value: str, number: int) -> str:
    """An RFC 8187 ``filename*`` value (``charset'language'percent-encoded``), decoded strictly:
    what cannot be read is refused rather than turned into another name."""
    match = _EXT_VALUE.fullmatch(value)
    if match is None:
        raise MultipartError(f"part {number}: filename* {value!r} does not read charset'language'name")
    charset, encoded = match.groups()
    if not encoded:  # and Python decodes no bytes with any name it is given, known or not
        raise MultipartError(f"part {number}: filename* {value!r} names no file")
    if not encoded.isascii() or _BAD_PERCENT.search(encoded):
        raise MultipartError(f"part {number}: filename* {value!r} is not percent-encoded ASCII")
    try:
        return unquote_to_bytes(encoded).decode(charset)
    except LookupError:
        raise MultipartError(f"part {number}: unknown charset {charset!r} in filename*") from None
    except (UnicodeError, ValueError):
        raise MultipartError(f"part {number}: filename* {value!r} is not valid {charset}") from None


def _decode(raw: bytes) -> str:
    """Part headers are UTF-8 in practice (file names with accents); fall back byte for byte."""
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return raw.decode("latin-1")
