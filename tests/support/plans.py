"""Test tooling for plans with no server: drive a plan as the drivers do, and a log that keeps
its lines."""

from __future__ import annotations

from typing import Any

from airflow_provider_plivo.transport.core import Concurrent, PlanSteps


def run_with(plan: Any, respond: Any) -> Any:
    """Drive a plan as the drivers do, answering each request with ``respond(request)``."""
    steps = PlanSteps(plan)
    step = steps.start()
    while step is not None:
        if isinstance(step, Concurrent):
            outcomes = [respond(request) for request in step.requests]
            for n, outcome in enumerate(outcomes):
                if step.on_outcome:
                    step.on_outcome(n, outcome)
            step = steps.reply(outcomes)
        else:
            step = steps.reply(respond(step))
    return steps.result


class Lines:
    """A Log that keeps what it is told."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, msg: str, *args: object) -> None:
        self.lines.append(msg % args)

    def warning(self, msg: str, *args: object) -> None:
        self.lines.append(msg % args)
