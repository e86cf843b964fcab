"""Test DAG: send ``params.text`` to ``params.dst`` and wait for delivery in the triggerer."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, XComArg

from airflow_provider_plivo.operators.message import PlivoSendMessageOperator
from airflow_provider_plivo.sensors.message import PlivoMessageSensor

with DAG(
    dag_id="plivo_deferred_delivery_test",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    params={"dst": ["+14155550101"]},
    default_args={"retries": 0},
) as dag:
    send = PlivoSendMessageOperator(
        task_id="send", src="+14155550100", dst="{{ params.dst }}", text="deferred delivery test"
    )
    # One retry, for an outage longer than outage_timeout; a delivery failure is final. The hook's
    # own retries are quick, here and in the trigger (hook_params travel with it), and not
    # adaptive: after a few 503s the account's learned pace, 1 request per 5 s, would stretch a
    # test of a spell of 503s to half a minute.
    PlivoMessageSensor(
        task_id="wait",
        message_uuids=XComArg(send, key="messages"),
        deferrable=True,
        poke_interval=0.3,
        timeout=60,
        retries=1,
        retry_delay=timedelta(seconds=0),
        hook_params={"retry_wait_initial": 0.05, "retry_wait_max": 0.1, "adaptive": False},
    )
