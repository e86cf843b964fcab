"""A large send's XComs: compact objects that every reader of a send's XComs takes back."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

import pytest

from airflow_provider_plivo.messages.compact import compact_messages, compact_uuids
from airflow_provider_plivo.messages.delivery import sent_messages

if TYPE_CHECKING:
    from airflow_provider_plivo.records import MessageRecord


def records(count: int, make_uuid=lambda: str(uuid.uuid4())) -> list[MessageRecord]:
    return [{"number": f"+1415{i:07d}", "message_uuid": make_uuid()} for i in range(count)]


def test_compact_messages_and_uuids_read_back_in_order_as_objects_and_as_templated_text():
    sent = records(1_500)
    expected = {r["message_uuid"]: r["number"] for r in sent}
    messages = compact_messages(sent)
    uuids = compact_uuids([r["message_uuid"] for r in sent])

    for form in (messages, json.dumps(messages), str(messages)):
        assert sent_messages(form) == expected
        assert list(sent_messages(form)) == [r["message_uuid"] for r in sent]
    assert sent_messages(json.dumps(uuids)) == dict.fromkeys(expected)


def test_uuids_of_any_other_form_travel_as_text_and_come_back_exactly():
    sent = records(1_200, make_uuid=lambda: "MSG-" + uuid.uuid4().hex.upper())

    assert sent_messages(compact_messages(sent)) == {r["message_uuid"]: r["number"] for r in sent}


def test_a_100000_number_send_stays_under_22_and_30_characters_a_number(report_figure):
    sent = records(100_000)
    uuid_text = len(json.dumps(compact_uuids([r["message_uuid"] for r in sent])))
    messages_text = len(json.dumps(compact_messages(sent)))
    report_figure(
        f"compact XComs of 100,000 numbers: return_value {uuid_text:,} characters (list: "
        f"{len(json.dumps([r['message_uuid'] for r in sent])):,}), messages {messages_text:,} "
        f"(list: {len(json.dumps(sent)):,})"
    )

    assert uuid_text < 22 * 100_000
    assert messages_text < 30 * 100_000


def test_a_compact_object_cut_short_is_refused_naming_the_argument():
    value = compact_messages(records(1_001))
    value["message_uuids"]["data"] = value["message_uuids"]["data"][:-40]

    with pytest.raises(TypeError, match=r"^message_uuids: the message_uuids column of a compact send XCom"):
        sent_messages(value)


def test_a_compact_object_whose_columns_disagree_is_refused():
    value = compact_messages(records(1_001))
    value["numbers"] = compact_messages(records(1_002))["numbers"]

    with pytest.raises(TypeError, match=r"says 1001 messages but holds 1001 UUIDs and 1002 numbers"):
        sent_messages(value)
