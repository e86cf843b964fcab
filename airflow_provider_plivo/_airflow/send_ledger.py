"""Recording sends in the task state store (Airflow 3.3+), so that a retried task messages no
number twice.

Each request gets a key of its own, written before the request goes (the numbers and the time)
and what it carried (sender, type, media: what tells its messages in Plivo's list), and again
once Plivo answered (the numbers Plivo refused, and how many parts hold who got which
message); a counter key says how many requests there are. Who got which is written in parts of
at most 500 pairs: Airflow keeps a value to 64 KiB, and 1,000 numbers with their UUIDs are
about 60. Writes stay proportional to the audience, however large.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from airflow_provider_plivo.records import MessageRecord

__all__ = ["TaskStateSendLedger"]

SEND_RETENTION = timedelta(days=1)
"""How long requests are remembered: longer than any sensible retry delay of a send task."""

PAIRS_PER_PART = 500
"""Who-got-which pairs in one stored value, well under Airflow's 64 KiB a value."""

_COUNT_KEY = "plivo_send_requests"
_REQUEST_KEY = "plivo_send_request_{}"
_PART_KEY = "plivo_send_request_{}_part_{}"


class TaskStateSendLedger:
    """The sends of earlier tries of this task instance, and this try's.

    Use from the task's main thread only: the task state store talks to Airflow's supervisor,
    which worker threads cannot reach.
    """

    def __init__(self, store: Any) -> None:
        self._store = store
        self._count = int(store.get(_COUNT_KEY, 0) or 0)
        self._pending: dict[int, dict[str, Any]] = {}

    def earlier_requests(self) -> list[dict[str, Any]]:
        requests = []
        for key in range(1, self._count + 1):
            entry = self._store.get(_REQUEST_KEY.format(key))
            if not entry:
                continue
            if "parts" in entry:
                pairs = [
                    pair
                    for part in range(entry["parts"])
                    for pair in self._store.get(_PART_KEY.format(key, part)) or []
                ]
                entry = {
                    **entry,
                    "messages": [{"number": number, "message_uuid": uuid} for number, uuid in pairs],
                }
            requests.append(entry)
        return requests

    def record_start(self, numbers: Sequence[str], started: datetime, *, sent: Mapping[str, Any]) -> int:
        self._count += 1
        entry = {"numbers": list(numbers), "started": started.isoformat(), "sent": dict(sent)}
        self._pending[self._count] = entry
        self._set(_REQUEST_KEY.format(self._count), entry)
        self._set(_COUNT_KEY, self._count)
        return self._count

    def record_answer(
        self, key: int, messages: Sequence[MessageRecord], invalid_numbers: Sequence[str]
    ) -> None:
        pairs = [[message["number"], message["message_uuid"]] for message in messages]
        parts = [pairs[i : i + PAIRS_PER_PART] for i in range(0, len(pairs), PAIRS_PER_PART)]
        for number, part in enumerate(parts):
            self._set(_PART_KEY.format(key, number), part)
        # Written last: a request counts as answered only once every part of its answer is stored.
        self._set(
            _REQUEST_KEY.format(key),
            {**self._pending.pop(key), "parts": len(parts), "invalid_numbers": list(invalid_numbers)},
        )

    def _set(self, key: str, value: Any) -> None:
        self._store.set(key, value, retention=SEND_RETENTION)
