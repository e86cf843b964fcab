"""The hook reads the account's sending speed from the connection: ``mps`` and ``time_scale``."""

from __future__ import annotations

import pytest

from airflow_provider_plivo.exceptions import PlivoError
from airflow_provider_plivo.get_provider_info import get_provider_info
from airflow_provider_plivo.hooks.plivo import PlivoHook
from airflow_provider_plivo.limits import SIGNUP_MPS


def test_a_connection_without_mps_has_plivos_signup_speed(plivo_env):
    plivo_env("https://api.plivo.com", login="MA0000", password="t")

    speed = PlivoHook().sending_speed

    assert dict(speed.mps) == SIGNUP_MPS
    assert speed.time_scale == 1


def test_the_sandbox_tells_the_hook_its_speed_and_clock(plivo_sandbox_factory):
    plivo_sandbox_factory(mps={"sms": 5.0, "mms": 0.25}, time_scale=1000)

    speed = PlivoHook().sending_speed

    assert dict(speed.mps) == {"sms": 5.0, "mms": 0.25}
    assert speed.time_scale == 1000


def test_mps_per_type_keeps_the_signup_speed_of_a_type_not_given(plivo_env):
    plivo_env("https://api.plivo.com", login="MA0000", password="t", mps={"mms": 2})

    assert dict(PlivoHook().sending_speed.mps) == {"sms": 5.0, "mms": 2.0}


def test_a_bad_mps_names_the_connection_and_the_extra(plivo_env):
    plivo_env("https://api.plivo.com", login="MA0000", password="t", mps="quick")

    with pytest.raises(
        PlivoError, match=r"Connection 'plivo_default': extra 'mps' must be a positive number"
    ):
        PlivoHook().sending_speed  # noqa: B018


def test_the_connection_form_has_an_mps_field_both_ways():
    assert "mps" in get_provider_info()["connection-types"][0]["conn-fields"]
    pytest.importorskip("flask_appbuilder")
    assert "mps" in PlivoHook.get_connection_form_widgets()
