"""How unkind the sandbox is: each habit of production Plivo that a campaign meets, on by default.

:class:`PlivoSandbox <airflow_provider_plivo.sandbox.server.PlivoSandbox>` takes one option per
habit; ``kinder=True`` turns every one of them off at once (the sandbox as it was before it had
them, for fast tests), and an option given explicitly wins over ``kinder``. :func:`resolve` makes
that choice; :class:`Realism` carries the outcome to the API layer. Its own defaults are the
kinder ones, so a bare :class:`~airflow_provider_plivo.sandbox.api.SandboxAPI` stays simple.

Where Plivo's documents disagree, the sandbox takes the stricter reading:

* **Upload types.** Plivo's media object page lists "JPG, PNG, MP4, GIF, PDF, text"; its MMS pages
  list many more types for sending; an SDK issue (plivo-python #295) shows a WAV upload refused
  with ``File format of the file to be uploaded should be one of JPG, JPEG, PNG or PDF``, while an
  MPEG upload, in neither list, passed. The sandbox accepts the media object page's types only and
  refuses the rest with that recorded error; one refused file refuses the whole request.
* **Masked numbers.** The send API's page shows ``log=false`` masking ``dst`` as ``+141XXXXX528``
  (the first three digits and the last three visible); the redaction page says the last three
  digits are replaced with ``***``, and a support article shows ``+12025550***``. The sandbox
  follows the send API's page, which hides the most.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Literal, TypeVar

from airflow_provider_plivo.limits import SIGNUP_MPS

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "ACCOUNT_UTC_OFFSET",
    "KINDER",
    "UNSET",
    "UPLOAD_TYPES",
    "Realism",
    "Unset",
    "mps_by_type",
    "resolve",
]

ACCOUNT_UTC_OFFSET = timedelta(hours=5, minutes=30)
"""The offset Plivo's recorded message times carry (``2021-07-13 18:28:51.94772+05:30``)."""
UPLOAD_TYPES = frozenset(
    {"image/jpeg", "image/jpg", "image/png", "image/gif", "video/mp4", "application/pdf", "text/plain"}
)
"""Content types ``POST Media/`` accepts: the media object page's JPG, PNG, MP4, GIF, PDF, text."""


class Unset(enum.Enum):
    """The default of an option that ``kinder`` decides."""

    UNSET = "unset"


UNSET = Unset.UNSET
T = TypeVar("T")


def resolve(value: T | Literal[Unset.UNSET], *, plivo: T, kinder_value: T, kinder: bool) -> T:
    """An option's value: as given, else Plivo's habit, or the kinder behaviour when ``kinder``."""
    if value is UNSET:
        return kinder_value if kinder else plivo
    return value


def mps_by_type(mps: float | Mapping[str, float] | None) -> dict[str, float] | None:
    """``mps`` per message type: one number for every type, or a mapping where a type not named
    gets Plivo's signup default (as the hook reads its ``mps`` extra); None stays None."""
    if mps is None:
        return None
    given = {kind: float(mps) for kind in SIGNUP_MPS} if isinstance(mps, (int, float)) else dict(mps)
    merged = {**SIGNUP_MPS, **given}
    if bad := {kind: rate for kind, rate in merged.items() if not rate > 0}:
        raise ValueError(f"mps must be above 0 messages per second for every type, got {bad}")
    return merged


@dataclass(frozen=True)
class Realism:
    """The habits of production Plivo the API layer shows; each default is the kinder behaviour."""

    mps: Mapping[str, float] | None = None
    """Outbound messages per second by type; None sends every message at once."""
    time_scale: float = 1.0
    """The messages' lifecycle (dispatch, expiry, delivery) runs this many times faster."""
    utc_offset: timedelta | None = None
    """Message times in this offset, trailing fraction zeros dropped; None: UTC, six digits."""
    honour_log: bool = False
    """``log=false`` (or ``content_only``) masks ``to_number`` in every record."""
    recorded_shapes: bool = False
    """Answers as recorded from Plivo: a message list's ``meta`` without ``total_count``,
    ``error_message`` ``""`` where there is none, every second ``GET Media/{id}`` with ``url``."""
    max_message_size: int | None = None
    """Text plus attachments over this many bytes fail the message with error 120; None: no check."""
    upload_types: frozenset[str] | None = None
    """Content types an upload may carry; None accepts any."""

    def __post_init__(self) -> None:
        if not self.time_scale > 0:
            raise ValueError(f"time_scale must be above 0, got {self.time_scale}")


KINDER = Realism()
"""None of Plivo's habits: the sandbox as it was before it had them."""
