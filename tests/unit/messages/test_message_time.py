"""Time strings as Plivo writes them, read alike on every Python the provider supports (3.10's
``fromisoformat`` refuses 5 fraction digits and ``Z``), and the UTC bounds of list filters."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_plivo.messages.rules import message_time, sent_since_filter, sent_until_filter

IST = timezone(timedelta(hours=5, minutes=30))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # plivo-python tests/resources/fixtures/messageGetResponse.json and messageListResponse.json
        ("2024-08-21 18:28:51.94772+05:30", datetime(2024, 8, 21, 18, 28, 51, 947720, tzinfo=IST)),
        ("2024-08-21 18:28:49.244057+05:30", datetime(2024, 8, 21, 18, 28, 49, 244057, tzinfo=IST)),
        ("2017-05-22 21:36:14+05:30", datetime(2017, 5, 22, 21, 36, 14, tzinfo=IST)),
        # plivo-examples-ruby sms/get_details.rb: another account's offset
        ("2014-12-05 10:57:54+04:00", datetime(2014, 12, 5, 10, 57, 54, tzinfo=timezone(timedelta(hours=4)))),
        # plivo/plivo-python mediaGetMediaResponse.json's upload_time: T and Z
        ("2021-02-17T07:16:09.153289Z", datetime(2021, 2, 17, 7, 16, 9, 153289, tzinfo=timezone.utc)),
    ],
)
def test_every_recorded_time_string_is_read(value, expected):
    parsed = message_time(value)

    assert parsed == expected
    assert parsed is not None
    assert parsed.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize("digits", range(7))
def test_0_to_6_fraction_digits_are_read_as_written(digits):
    fraction = "123456"[:digits]
    value = f"2021-07-13 13:04:06{'.' + fraction if digits else ''}+05:30"

    assert message_time(value) == datetime(
        2021, 7, 13, 13, 4, 6, int(fraction.ljust(6, "0") or 0), tzinfo=IST
    )


@pytest.mark.parametrize(
    ("value", "offset"),
    [
        ("2021-07-13 13:04:06.5-08:00", timedelta(hours=-8)),
        ("2021-07-13T13:04:06.5+0530", timedelta(hours=5, minutes=30)),
        ("2021-07-13 13:04:06.5z", timedelta()),
        ("2021-07-13 13:04:06.5", timedelta()),  # no offset: UTC, as Plivo's filters are
        ("2021-07-13 13:04", timedelta()),
    ],
)
def test_any_offset_or_z_with_space_or_t(value, offset):
    parsed = message_time(value)

    assert parsed is not None
    assert parsed.utcoffset() == offset


@pytest.mark.parametrize(
    "value", [None, "", "yesterday", "2021-13-01 00:00:00", "2021-07-13 25:00:00+05:30", 7]
)
def test_what_is_not_a_time_is_none(value):
    assert message_time(value) is None


def test_list_filters_are_utc_bounds_that_hold_the_moment_itself():
    moment = datetime(2024, 8, 21, 18, 28, 51, 947720, tzinfo=IST)

    assert sent_since_filter(moment) == "2024-08-21 12:58:51"
    assert sent_until_filter(moment) == "2024-08-21 12:58:52"
    assert sent_until_filter(moment.replace(microsecond=0)) == "2024-08-21 12:58:51"
