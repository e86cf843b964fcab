"""The sensor's poke over a stub hook (no server): a UUID Plivo does not know, also in
``reschedule`` mode, where every poke is a new process that remembers no earlier one."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, cast

import pytest

from airflow_provider_plivo.messages.pacing import SendingSpeed
from airflow_provider_plivo.sensors.message import PlivoMessageSensor
from airflow_provider_plivo.version_compat import AirflowFailException

US = "+14155550101"
RECORDS = [{"number": US, "message_uuid": "known"}, {"number": US, "message_uuid": "gone"}]


class StubHook:
    """Answers as the hook does for a UUID Plivo answered 404 for: left out of the result."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []
        self.sending_speed = SendingSpeed.from_extras({}, conn_id="stub")  # Plivo's signup speeds

    def get_messages(self, uuids: list[str]) -> dict[str, dict[str, Any]]:
        self.asked.append(list(uuids))
        return {u: {"message_state": "sent", "to_number": "141XXXXX101"} for u in uuids if u != "gone"}


class StubTaskInstance:
    def __init__(self, first_poke: datetime | None) -> None:
        self.first_poke = first_poke

    def get_first_reschedule_date(self, context: Any) -> datetime | None:
        return self.first_poke


def rescheduled_poke(first_poke: datetime | None) -> Any:
    """One poke of a new sensor process in reschedule mode, as Airflow runs each."""
    sensor = PlivoMessageSensor(task_id="wait", message_uuids=RECORDS, mode="reschedule", poke_interval=30)
    sensor.__dict__["hook"] = StubHook()
    return sensor.poke(cast("Any", {"ti": StubTaskInstance(first_poke)}))


def test_in_reschedule_mode_an_unknown_uuid_waits_through_the_grace():
    now = datetime.now(timezone.utc)

    assert not rescheduled_poke(None).is_done  # the first poke
    assert not rescheduled_poke(now - timedelta(seconds=30)).is_done


def test_in_reschedule_mode_an_unknown_uuid_fails_by_name_once_watched_long_enough():
    with pytest.raises(AirflowFailException) as raised:
        rescheduled_poke(datetime.now(timezone.utc) - timedelta(seconds=95))

    assert str(raised.value).startswith(
        "1 of 2 messages failed: gone to +14155550101: Plivo does not know this message "
        "(not found on 4 polls over 95 s"
    )
    assert str(raised.value).endswith("(2 of 2 settled: 1 sent, 1 not found)")


def test_in_poke_mode_the_sensor_remembers_and_asks_only_about_the_unknown_uuid():
    sensor = PlivoMessageSensor(task_id="wait", message_uuids=RECORDS, poke_interval=0.01)
    hook = StubHook()
    sensor.__dict__["hook"] = hook

    for _ in range(3):
        assert not sensor.poke(cast("Any", {})).is_done

    assert hook.asked == [["known", "gone"], ["gone"], ["gone"]]
    assert sensor.watch.missing() == ["gone"]
