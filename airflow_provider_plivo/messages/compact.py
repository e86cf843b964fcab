"""How a large send's UUIDs and who-got-which travel in XComs: compact, not as JSON lists.

A send to at most :data:`COMPACT_ABOVE` numbers pushes the lists the README shows
(``["uuid", ...]``, ``[{"number", "message_uuid"}, ...]``: about 40 and 85 characters a
number). A larger one pushes one JSON object instead, each column zlib-compressed and base64
text: a UUID of Plivo's canonical form as its 16 bytes (22 characters a message, less for
Plivo's time-based UUIDs, which share most of their bytes), any other as a line of text, and
the numbers as lines. 100,000 numbers give a ``return_value`` of about 2.2 MB and a
``messages`` of at most 3 MB, where the lists were 4 and 8.4 MB.

:func:`message_pairs` reads every form back (lists, compact objects, and the JSON text
templating renders them to), so the sensor and downstream tasks take whichever the send pushed.
"""

from __future__ import annotations

import base64
import binascii
import uuid
import zlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_plivo.records import MessageRecord

__all__ = ["COMPACT_ABOVE", "FORMAT_KEY", "compact_messages", "compact_uuids", "is_compact", "message_pairs"]

COMPACT_ABOVE = 1_000
"""Sends to more numbers than this (Plivo's most per request) push compact XComs."""

FORMAT_KEY = "plivo_sent_messages"
"""Marks a compact object; its value is the format's version."""
_VERSION = 1
_UUID_BYTES = "uuid16"
"""Every UUID canonical (``str(uuid.UUID(u)) == u``): 16 bytes each."""
_LINES = "lines"
"""Anything else: newline-separated text (UUIDs and numbers hold no newline)."""


def compact_uuids(uuids: Sequence[str]) -> dict[str, Any]:
    """``uuids`` as one compact object (a large send's ``return_value``)."""
    return {FORMAT_KEY: _VERSION, "count": len(uuids), "message_uuids": _uuid_column(uuids)}


def compact_messages(messages: Sequence[MessageRecord]) -> dict[str, Any]:
    """Who got which as one compact object (a large send's ``messages``), in order."""
    uuids = [record["message_uuid"] for record in messages]
    return {
        **compact_uuids(uuids),
        "numbers": _column(_LINES, "\n".join(record["number"] for record in messages).encode()),
    }


def is_compact(value: object) -> bool:
    return isinstance(value, Mapping) and FORMAT_KEY in value


def message_pairs(value: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """``(message_uuid, number or None)`` of each message in a compact object, in order.

    :raises ValueError: the object is not one this version wrote, or its columns do not read
        back (cut short, or edited), saying which.
    """
    if value.get(FORMAT_KEY) != _VERSION:
        raise ValueError(
            f"a compact send XCom of format {value.get(FORMAT_KEY)!r}; this provider reads format {_VERSION}"
        )
    count = value.get("count")
    uuids = _read_column(value.get("message_uuids"), "message_uuids")
    numbers: list[str | None] = (
        list(_read_column(value["numbers"], "numbers")) if "numbers" in value else [None] * len(uuids)
    )
    if not (count == len(uuids) == len(numbers)):
        raise ValueError(
            f"a compact send XCom says {count!r} messages but holds {len(uuids)} UUIDs "
            f"and {len(numbers)} numbers: cut short or edited?"
        )
    return list(zip(uuids, numbers, strict=True))


def _uuid_column(uuids: Sequence[str]) -> dict[str, str]:
    try:
        parsed = [uuid.UUID(u) for u in uuids]
    except ValueError:
        parsed = []
    if len(parsed) == len(uuids) and all(str(p) == u for p, u in zip(parsed, uuids, strict=True)):
        return _column(_UUID_BYTES, b"".join(p.bytes for p in parsed))
    return _column(_LINES, "\n".join(uuids).encode())


def _column(encoding: str, data: bytes) -> dict[str, str]:
    return {"encoding": encoding, "data": base64.b64encode(zlib.compress(data, 9)).decode("ascii")}


def _read_column(column: object, name: str) -> list[str]:
    if not isinstance(column, Mapping) or not isinstance(column.get("data"), str):
        raise ValueError(f"a compact send XCom without its {name} column")
    try:
        data = zlib.decompress(base64.b64decode(column["data"], validate=True))
    except (binascii.Error, zlib.error) as err:
        raise ValueError(f"the {name} column of a compact send XCom does not read back: {err}") from None
    if column.get("encoding") == _UUID_BYTES:
        if len(data) % 16:
            raise ValueError(f"the {name} column of a compact send XCom is cut short")
        return [str(uuid.UUID(bytes=data[i : i + 16])) for i in range(0, len(data), 16)]
    if column.get("encoding") == _LINES:
        return data.decode().split("\n") if data else []
    raise ValueError(
        f"the {name} column of a compact send XCom has an unknown encoding {column.get('encoding')!r}"
    )
