"""The 5 MB limit of one message: its media and text together (Plivo error 120 beyond), checked
before sending. A plan of the core, so the operators (blocking driver) and the notifier in a
deadline alert (async driver) check alike.

Plivo checks each upload against 2 MB but refuses a message whose media add up to 5 MB or more
only once it is sent, with error 120, after the send operator reported success: 10 files of
2 MB each pass every upload and fail every message. The sizes of ``media_ids`` are looked up
(``GET Media/{id}/``, together, as many at a time as the limiter allows) and a message over the
limit fails before anything is sent, naming each media with its size.

``media_urls`` are not fetched: their size is known only to their own server (Plivo fetches them
itself when it sends, and refuses a message over the limit with error 120), and asking it would
send requests from a worker or the triggerer to any host a DAG names. They count as 0 bytes here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_plivo.exceptions import (
    PlivoAPIError,
    PlivoError,
    PlivoMessageValidationError,
    PlivoUnknownMediaError,
)
from airflow_provider_plivo.limits import MAX_MESSAGE_SIZE
from airflow_provider_plivo.transport.core import Concurrent, Request, path_id

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow_provider_plivo.transport.core import Plan

__all__ = ["LARGEST_MEDIA", "message_size_plan", "size_checked"]

T = TypeVar("T")

LARGEST_MEDIA = 2 * 1024 * 1024
"""The largest media Plivo stores (its 2 MB per file, in the lenient reading): a message whose
media count times this stays under :data:`MAX_MESSAGE_SIZE` needs no look-up (two media and
any text), so most sends, and most notifications, cost no extra request."""


def message_size_plan(payload: Mapping[str, Any]) -> Plan[None]:
    """Check that the media (``media_ids``) and text of ``payload`` (a ``POST Message/`` body)
    stay under :data:`MAX_MESSAGE_SIZE`, looking up the size of each media.

    :raises PlivoMessageValidationError: over the limit, naming each media with its size.
    :raises PlivoUnknownMediaError: Plivo does not know a media ID (expired after 6 hours?).
    """
    media_ids = list(payload.get("media_ids") or [])
    text_size = len(str(payload.get("text") or "").encode("utf-8"))
    if len(media_ids) * LARGEST_MEDIA + text_size < MAX_MESSAGE_SIZE:
        return
    unique = list(dict.fromkeys(media_ids))
    outcomes = yield Concurrent([Request("GET", f"Media/{path_id(m, 'media ID')}/") for m in unique])
    sizes: dict[str, int | None] = {}
    for media_id, outcome in zip(unique, outcomes, strict=True):
        if isinstance(outcome, PlivoAPIError) and outcome.status_code == 404:
            raise PlivoUnknownMediaError(
                status_code=404,
                message=f"media {media_id} not found ({outcome.message})",
                endpoint=outcome.endpoint,
                api_id=outcome.api_id,
            ) from outcome
        if isinstance(outcome, PlivoError):
            raise outcome
        size = outcome.get("size")
        sizes[media_id] = size if isinstance(size, int) and not isinstance(size, bool) else None
    total = text_size + sum(sizes[m] or 0 for m in media_ids)
    if total < MAX_MESSAGE_SIZE:
        return
    parts = [
        f"media {m}: {f'{sizes[m]:,} bytes' if sizes[m] is not None else 'size unknown'}" for m in media_ids
    ]
    if text_size:
        parts.append(f"text: {text_size:,} bytes")
    raise PlivoMessageValidationError(
        [
            f"media and text come to {total:,} bytes; Plivo takes less than {MAX_MESSAGE_SIZE:,} "
            f"bytes in one message (error 120): {'; '.join(parts)}"
        ]
    )


def size_checked(payload: Mapping[str, Any], send: Plan[T]) -> Plan[T]:
    """``send`` (the plan that sends ``payload``), run only once :func:`message_size_plan` passed."""
    yield from message_size_plan(payload)
    return (yield from send)
