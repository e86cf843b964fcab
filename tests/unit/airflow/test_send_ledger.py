"""The send ledger when Airflow's timeout interrupts it mid-write: the answer, told again, is
recorded once, and a later try reads every number as messaged."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_plivo._airflow.send_ledger import TaskStateSendLedger
from airflow_provider_plivo.transport.clock import utc_now
from tests.support.stores import MemoryStore

if TYPE_CHECKING:
    from airflow_provider_plivo.records import MessageRecord


class Timeout(BaseException):
    """What Airflow's execution_timeout raises in the task's main thread."""


class InterruptedOnce(MemoryStore):
    """Raises on the first write of ``key``, after the write went through (a slow store's answer
    that the timeout cut off)."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key

    def set(self, key: str, value: Any, **kwargs: Any) -> None:
        super().set(key, value, **kwargs)
        if key == self.key:
            self.key = ""
            raise Timeout


MESSAGES: list[MessageRecord] = [
    {"number": "+14155550101", "message_uuid": "u1"},
    {"number": "+14155550102", "message_uuid": "u2"},
]


@pytest.mark.parametrize("interrupted", ["plivo_send_request_1", "plivo_send_request_1_part_0"])
def test_an_answer_told_again_after_an_interrupted_write_is_recorded(interrupted):
    store = InterruptedOnce("")
    ledger = TaskStateSendLedger(store)
    key = ledger.record_start(["+14155550101", "+14155550102"], utc_now(), sent={})
    store.key = interrupted  # the start went through; the answer's write is cut

    with pytest.raises(Timeout):
        ledger.record_answer(key, MESSAGES, [])
    ledger.record_answer(key, MESSAGES, [])  # told again by the interrupt path
    ledger.record_answer(key, MESSAGES, [])  # and once more: already written, nothing to do

    later = TaskStateSendLedger(store).progress()
    assert later.messages == {m["number"]: m for m in MESSAGES}
