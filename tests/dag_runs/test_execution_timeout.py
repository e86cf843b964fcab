"""Airflow's own ``execution_timeout`` (a real SIGALRM in a ``dag.test()`` run) cutting a send and
an upload short: no request starts after it, what was in flight is recorded, and the retries
finish the work without repeating any of it."""

from __future__ import annotations

import time
from typing import Any

import pytest

from airflow_provider_plivo.messages.delivery import sent_messages
from airflow_provider_plivo.version_compat import has_task_state_store
from tests.support.dag_runs import task_states, xcom_value

pytestmark = pytest.mark.skipif(
    not has_task_state_store(), reason="a retry resumes from the task state store (3.3+)"
)

STARTED_LATE = 0.25
"""How long after the timeout a request may still reach the sandbox and count as started before
it: the moment it left the worker and the moment it arrived differ by the loopback's hop, and the
sandbox's latency (1.5 s, 2 s) puts the next round of requests a second or more after it."""


class Timeline:
    """When each try started, when Airflow's timeout fired, and when each request reached the
    sandbox (monotonic seconds): observed, not changed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, sandbox: Any, operator: Any) -> None:
        from airflow.sdk.execution_time.timeout import TimeoutPosix

        self.tries: list[float] = []
        self.timeouts: list[float] = []
        self.ended: list[float] = []
        self.arrivals: list[tuple[float, str, str]] = []
        handle_timeout, execute, handle = TimeoutPosix.handle_timeout, operator.execute, sandbox.api.handle

        def timed_out(timeout: Any, signum: int, frame: Any) -> None:
            self.timeouts.append(time.monotonic())
            handle_timeout(timeout, signum, frame)  # type: ignore[no-untyped-call]

        def executed(task: Any, context: Any) -> Any:
            self.tries.append(time.monotonic())
            try:
                return execute(task, context)
            finally:
                self.ended.append(time.monotonic())

        def arrived(method: str, path: str, *args: Any, **kwargs: Any) -> Any:
            self.arrivals.append((time.monotonic(), method, path))
            return handle(method, path, *args, **kwargs)

        monkeypatch.setattr(TimeoutPosix, "handle_timeout", timed_out)
        monkeypatch.setattr(operator, "execute", executed)
        monkeypatch.setattr(sandbox.api, "handle", arrived)

    def late_requests(self, path: str) -> list[str]:
        """Requests to ``path`` that reached the sandbox after their try's timeout had fired."""
        late = []
        for n, start in enumerate(self.tries):
            end = self.tries[n + 1] if n + 1 < len(self.tries) else float("inf")
            fired = [t for t in self.timeouts if start < t < end]
            for at, method, request_path in self.arrivals:
                if fired and start < at < end and path in request_path and at > fired[0] + STARTED_LATE:
                    late.append(
                        f"try {n + 1}: {method} {request_path} {at - fired[0]:.2f} s after the timeout"
                    )
        return late


def test_execution_timeout_stops_a_10000_number_send_and_the_retries_message_each_number_once(
    plivo_sandbox_factory, run_dag, monkeypatch, report_figure
):
    from airflow_provider_plivo.operators.message import PlivoSendMessageOperator

    sandbox = plivo_sandbox_factory(latency_ms=2000)
    timeline = Timeline(monkeypatch, sandbox, PlivoSendMessageOperator)
    numbers = [f"+1415555{i:04d}" for i in range(10_000)]

    dag_run = run_dag("test_dags/timed_out_send_dag.py", dst=numbers)

    assert task_states(dag_run) == {"send": "success"}
    assert len(timeline.timeouts) >= 1, "the send finished within its timeout: the sandbox is not slow enough"
    assert timeline.late_requests("/Message/") == []
    # Every answer that came was recorded: no retry needed Plivo's message list to find out.
    assert [path for _, method, path in timeline.arrivals if method == "GET"] == []
    messaged = sorted(m.to_number for m in sandbox.messages.values())
    assert messaged == numbers
    answered = [r.json["dst"].split("<") for r in sandbox.requests if r.path.endswith("/Message/")]
    assert sorted(n for batch in answered for n in batch) == numbers
    assert (
        sorted(str(n) for n in sent_messages(xcom_value(dag_run, "send", key="messages")).values()) == numbers
    )
    waits = [end - fired for fired, end in zip(timeline.timeouts, timeline.ended, strict=False)]
    report_figure(
        f"execution_timeout=6s on a 10,000-number send (2 s latency, 2 at a time): "
        f"{len(timeline.tries)} tries; each try ended {', '.join(f'{w:.2f}' for w in waits)} s after its "
        "timeout; every number messaged once"
    )


def test_execution_timeout_stops_an_upload_within_one_request_timeout_and_the_retries_repeat_no_chunk(
    plivo_sandbox_factory, run_dag, make_media, monkeypatch, report_figure
):
    from airflow_provider_plivo.operators.media import PlivoMediaUploadOperator

    request_timeout = 5
    sandbox = plivo_sandbox_factory(latency_ms=1500, timeout=request_timeout)
    timeline = Timeline(monkeypatch, sandbox, PlivoMediaUploadOperator)
    files = make_media(24)

    dag_run = run_dag("test_dags/timed_out_upload_dag.py", files=files)

    assert task_states(dag_run) == {"upload": "success"}
    assert len(timeline.timeouts) >= 1, "the upload finished within 2 s: the sandbox is not slow enough"
    assert timeline.late_requests("/Media/") == []
    waits = [end - fired for fired, end in zip(timeline.timeouts, timeline.ended, strict=False)]
    assert all(wait < request_timeout for wait in waits), waits
    stored = sorted(m.file_name for m in sandbox.media.values())
    assert stored == sorted(f.rsplit("/", 1)[1] for f in files)
    assert len(xcom_value(dag_run, "upload")) == 24
    report_figure(
        f"execution_timeout=2s on an upload of 12 chunks (1.5 s latency, 2 at a time): "
        f"{len(timeline.tries)} tries; each try ended {', '.join(f'{w:.2f}' for w in waits)} s after its "
        "timeout; every file stored once"
    )
