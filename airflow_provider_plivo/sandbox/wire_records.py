"""Plivo's record shapes, as its API returns them: media objects, message records, list pages.

Field by field after Plivo's documented and recorded answers: message numbers carry no '+',
message times read ``2021-07-13 13:04:06.799021+00:00`` (a space, microseconds and an offset;
the sandbox's account runs on UTC), upload times ``2021-02-17T07:16:09.153289Z``, and a page's
``next``/``previous`` links name the path without its trailing slash. Prices are the sandbox's
own figures, not Plivo's.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

__all__ = ["message_units", "page", "plivo_time", "price", "upload_time"]

_GSM_7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
"""Characters an SMS carries in GSM-7's basic set, one septet each."""
_GSM_7_EXTENSION = frozenset("^{}\\[~]|€\f")
"""GSM-7 characters that take two septets; any character in neither set makes the SMS UCS-2."""
_RATES = {"sms": Decimal("0.00500"), "mms": Decimal("0.02000")}
"""The sandbox's price per unit, by message type."""


def plivo_time(moment: datetime) -> str:
    """A message time as Plivo writes it: ``2021-07-13 13:04:06.799021+00:00``."""
    return moment.isoformat(sep=" ", timespec="microseconds")


def upload_time(moment: datetime) -> str:
    """A media upload time as Plivo writes it: ``2021-02-17T07:16:09.153289Z``."""
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def message_units(text: str, message_type: str) -> int:
    """Billed units: one per MMS; per SMS, 160 GSM-7 or 70 UCS-2 characters, less for a split one."""
    if message_type != "sms":
        return 1
    if set(text) <= _GSM_7 | _GSM_7_EXTENSION:
        length, single, split = len(text) + sum(c in _GSM_7_EXTENSION for c in text), 160, 153
    else:
        length, single, split = len(text.encode("utf-16-le")) // 2, 70, 67
    return 1 if length <= single else -(-length // split)


def price(message_type: str, units: int) -> tuple[str, str]:
    """``(total_rate, total_amount)`` as Plivo writes them, strings with five decimals."""
    rate = _RATES.get(message_type, _RATES["sms"])
    return f"{rate:.5f}", f"{rate * units:.5f}"


def page(
    path: str,
    query: Mapping[str, Sequence[str]],
    objects: Sequence[dict[str, Any]],
    *,
    total: int,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    """One page, ``objects`` (the records at ``offset`` of a list of ``total``), with Plivo's ``meta``.

    The links keep the request's other parameters (a list's filters) after offset and limit.
    """
    filters = [
        (key, value) for key, values in query.items() if key not in ("limit", "offset") for value in values
    ]

    def link(at: int) -> str:
        return f"{path.rstrip('/')}?{urlencode([('offset', at), ('limit', limit), *filters])}"

    return {
        "meta": {
            "limit": limit,
            "offset": offset,
            "next": link(offset + limit) if offset + limit < total else None,
            "previous": link(max(0, offset - limit)) if offset > 0 else None,
            "total_count": total,
        },
        "objects": list(objects),
    }
