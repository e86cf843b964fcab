"""Recording sends in the task state store (Airflow 3.3+), so that a retried task messages no
number twice.

Each request gets a key of its own, written before the request goes (the numbers and the time)
and again once Plivo answered (who got which message, and the invalid numbers); a counter key
says how many there are. Writes stay proportional to the requests, however large the audience.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from airflow_provider_plivo.records import MessageRecord

SEND_RETENTION = timedelta(days=1)
"""How long requests are remembered: longer than any sensible retry delay of a send task."""

_COUNT_KEY = "plivo_send_requests"
_REQUEST_KEY = "plivo_send_request_{}"


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
        entries = (self._store.get(_REQUEST_KEY.format(n)) for n in range(1, self._count + 1))
        return [entry for entry in entries if entry]

    def record_start(self, numbers: Sequence[str], started: datetime) -> int:
        self._count += 1
        entry = {"numbers": list(numbers), "started": started.isoformat()}
        self._pending[self._count] = entry
        self._store.set(_REQUEST_KEY.format(self._count), entry, retention=SEND_RETENTION)
        self._store.set(_COUNT_KEY, self._count, retention=SEND_RETENTION)
        return self._count

    def record_answer(
        self, key: int, messages: Sequence[MessageRecord], invalid_numbers: Sequence[str]
    ) -> None:
        entry = {
            **self._pending.pop(key),
            "messages": list(messages),
            "invalid_numbers": list(invalid_numbers),
        }
        self._store.set(_REQUEST_KEY.format(key), entry, retention=SEND_RETENTION)
