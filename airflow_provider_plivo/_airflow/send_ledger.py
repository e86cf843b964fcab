"""Recording sends in the task state store (Airflow 3.3+), so that a retried task messages no
number twice.

Each request gets a key of its own, written before the request goes (the numbers and the time)
and what it carried (sender, type, media: what tells its messages in Plivo's list), and again
once Plivo answered (the numbers Plivo refused, and how many parts hold who got which
message); a counter key says how many requests there are. Who got which is written in parts of
at most 500 pairs: Airflow keeps a value to 64 KiB, and 1,000 numbers with their UUIDs are
about 60. Writes stay proportional to the audience, however large.

A paced campaign (waves deferred between them) reads what its earlier waves did from the same
ledger (:meth:`TaskStateSendLedger.progress`). Airflow before 3.3 has no task state store: there
each wave's answer goes to an XCom of the task itself (:class:`XComWaves`), which survives the
deferrals of one try (Airflow clears a task's XComs when a try starts, not when it resumes). The
deferral's own ``kwargs`` cannot carry it: ``dag.test()`` (3.1.8 and 3.3.2 alike) replaces them
with the trigger's event when it resumes the task.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow_provider_plivo.messages.sender import SentMessages
    from airflow_provider_plivo.records import MessageRecord

__all__ = ["CampaignProgress", "TaskStateSendLedger", "XComWaves"]

SEND_RETENTION = timedelta(days=1)
"""How long requests are remembered: longer than any sensible retry delay of a send task."""

PAIRS_PER_PART = 500
"""Who-got-which pairs in one stored value, well under Airflow's 64 KiB a value."""

_WAVE_KEY = "plivo_wave_{}"

_COUNT_KEY = "plivo_send_requests"
_REQUEST_KEY = "plivo_send_request_{}"
_PART_KEY = "plivo_send_request_{}_part_{}"


class CampaignProgress(NamedTuple):
    """What the earlier waves (and tries) of a campaign did."""

    messages: dict[str, MessageRecord]
    """Number -> who got which, for every number messaged."""
    invalid_numbers: list[str]
    sends: list[tuple[float, int]]
    """``(moment, count)`` of each send: when it started (a ``time.time()`` value) and how many
    messages it may have queued at Plivo (every number of a request whose answer never came)."""

    @property
    def done(self) -> set[str]:
        """The numbers no later wave sends to: messaged, or refused by Plivo as invalid."""
        return set(self.messages) | set(self.invalid_numbers)


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

    def progress(self) -> CampaignProgress:
        """What every recorded request did; a request whose answer never came counts as sent
        to all its numbers in :attr:`CampaignProgress.sends` but as done for none of them."""
        messages: dict[str, MessageRecord] = {}
        invalid: list[str] = []
        sends = []
        for request in self.earlier_requests():
            started = datetime.fromisoformat(request["started"]).timestamp()
            if "messages" in request:
                messages.update((record["number"], record) for record in request["messages"])
                invalid.extend(request["invalid_numbers"])
                sends.append((started, len(request["messages"])))
            else:
                sends.append((started, len(request["numbers"])))
        return CampaignProgress(messages, invalid, sends)

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
        if key not in self._pending:  # told again after an interrupt that came once it was written
            return
        pairs = [[message["number"], message["message_uuid"]] for message in messages]
        parts = [pairs[i : i + PAIRS_PER_PART] for i in range(0, len(pairs), PAIRS_PER_PART)]
        for number, part in enumerate(parts):
            self._set(_PART_KEY.format(key, number), part)
        # Written last: a request counts as answered only once every part of its answer is stored.
        self._set(
            _REQUEST_KEY.format(key),
            {**self._pending[key], "parts": len(parts), "invalid_numbers": list(invalid_numbers)},
        )
        # Forgotten only once written: an interrupt mid-write has the answer told again.
        del self._pending[key]

    def _set(self, key: str, value: Any) -> None:
        self._store.set(key, value, retention=SEND_RETENTION)


class XComWaves:
    """The waves of a paced campaign before Airflow 3.3, one XCom of the task each
    (``plivo_wave_1``, ...): they last for one try of the task, across its deferrals.

    What this guarantees: within one try, each number gets one message however many waves and
    deferrals the campaign takes. What it does not: a retry (after a failed wave, or a worker
    lost between sending a wave and deferring) starts again from the first number, as every
    send before 3.3 does.

    :param ti: the running task instance (``context["ti"]``).
    """

    def __init__(self, ti: Any) -> None:
        self._ti = ti

    def progress(self) -> CampaignProgress:
        messages: dict[str, MessageRecord] = {}
        invalid: list[str] = []
        sends = []
        wave = 1
        while entry := self._ti.xcom_pull(
            task_ids=self._ti.task_id, key=_WAVE_KEY.format(wave), map_indexes=self._ti.map_index
        ):
            messages.update(
                (number, {"number": number, "message_uuid": uuid}) for number, uuid in entry["messages"]
            )
            invalid.extend(entry["invalid_numbers"])
            sends.append((entry["started"], len(entry["messages"])))
            wave += 1
        return CampaignProgress(messages, invalid, sends)

    def record(self, wave: int, started: float, sent: SentMessages) -> None:
        """Keep what wave number ``wave`` (from 1), started at ``started``, did."""
        self._ti.xcom_push(
            key=_WAVE_KEY.format(wave),
            value={
                "started": started,
                "messages": [[record["number"], record["message_uuid"]] for record in sent.messages],
                "invalid_numbers": list(sent.invalid_numbers),
            },
        )
