"""Test tooling for the message trigger: build one with the suite's usual arguments, and run it
on an event loop of its own, as a triggerer would, to its first event."""

from __future__ import annotations

from typing import Any

from airflow_provider_plivo.messages.delivery import FAILURE_STATES
from airflow_provider_plivo.triggers.message import PlivoMessageTrigger

__all__ = ["first_event", "message_trigger"]


def message_trigger(**arguments: Any) -> PlivoMessageTrigger:
    """A trigger on ``plivo_default`` with Plivo's meaning of done; ``arguments`` win."""
    defaults: dict[str, Any] = {
        "plivo_conn_id": "plivo_default",
        "success_states": None,
        "failure_states": FAILURE_STATES,
    }
    return PlivoMessageTrigger(**{**defaults, **arguments})


async def first_event(watching: PlivoMessageTrigger) -> dict[str, Any]:
    """The payload of the first event the trigger fires."""
    async for event in watching.run():
        return dict(event.payload)
    raise AssertionError("the trigger ended without an event")
