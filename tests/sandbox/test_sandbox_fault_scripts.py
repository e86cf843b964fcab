"""Rehearsing an outage: faults scripted on any endpoint by request number, by count and by time
(the sandbox clock), from Python, over HTTP and on the command line; stats that reset; and a
latency changed on a running sandbox."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
import requests

from airflow_provider_plivo.sandbox import PlivoSandbox
from airflow_provider_plivo.sandbox.cli import main
from airflow_provider_plivo.sandbox.faults import FaultPlan, ScriptedFault, parse_fault

if TYPE_CHECKING:
    from collections.abc import Iterator

UUID = "3f2c0000-0000-4000-8000-000000000001"


@pytest.fixture
def sandbox() -> Iterator[PlivoSandbox]:
    with PlivoSandbox(kinder=True) as running:
        yield running


def status_read(url: str, auth: tuple[str, str]) -> int:
    """A status read of a message the sandbox does not know: 404 unless a fault answers first."""
    return requests.get(f"{url}/v1/Account/{auth[0]}/Message/{UUID}/", auth=auth, timeout=5).status_code


def reads(sandbox: PlivoSandbox, count: int = 1) -> list[int]:
    return [status_read(sandbox.url, (sandbox.auth_id, sandbox.auth_token)) for _ in range(count)]


def upload(sandbox: PlivoSandbox) -> int:
    return requests.post(
        f"{sandbox.url}/v1/Account/{sandbox.auth_id}/Media/",
        files=[("file", ("a.png", b"png!", "image/png"))],
        auth=(sandbox.auth_id, sandbox.auth_token),
        timeout=5,
    ).status_code


def control(sandbox: PlivoSandbox, path: str, body: Any = None) -> requests.Response:
    return requests.post(f"{sandbox.url}/_sandbox/{path}", json=body, timeout=5)


def test_a_spell_by_time_lasts_its_seconds_on_the_sandbox_clock(sandbox):
    sandbox.script_faults("503", endpoint="status", seconds=20)

    during = reads(sandbox, 2)
    sandbox.advance_clock(timedelta(seconds=19))
    late = reads(sandbox)
    sandbox.advance_clock(timedelta(seconds=1.5))
    after = reads(sandbox, 2)

    assert (during, late, after) == ([503, 503], [503], [404, 404])
    assert [r.fault for r in sandbox.requests] == ["503", "503", "503", None, None]


def test_a_spell_by_count_faults_the_next_requests_from_when_it_is_scripted(sandbox):
    before = reads(sandbox)
    sandbox.script_faults("429", endpoint="status", count=2)

    assert before + reads(sandbox, 4) == [404, 429, 429, 404, 404]


def test_a_fault_by_request_number_still_wins_and_both_forms_share_the_count():
    clock = [PlivoSandbox().now()]
    plan = FaultPlan({2: "500"}, clock=lambda: clock[0])
    plan.script_spell("503", count=2)

    assert [plan.next_request() for _ in range(4)] == ["503", "500", "503", None]
    assert plan.injected == [(1, "503"), (2, "500"), (3, "503")]


def test_faults_are_scripted_over_http_on_any_endpoint(sandbox):
    by_time = control(sandbox, "faults", {"endpoint": "status", "kind": "503", "seconds": 20})
    by_count = control(sandbox, "faults", {"kind": 500, "count": 1})  # uploads by default

    assert by_time.status_code == by_count.status_code == 200
    assert by_time.json() == {
        "scripted": {"endpoint": "status", "kind": "503", "request": None, "count": None, "seconds": 20}
    }
    assert (reads(sandbox), upload(sandbox), upload(sandbox)) == ([503], 500, 200)
    sandbox.advance_clock(timedelta(seconds=21))
    assert reads(sandbox) == [404]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            {"endpoint": "voice", "kind": "503", "count": 1},
            "unknown fault endpoint 'voice'; known: media, message",
        ),
        ({"endpoint": "status", "kind": "lost", "count": 1}, "unknown fault kind 'lost'"),
        ({"kind": "503", "count": 2, "seconds": 5}, "exactly one of request, count or seconds"),
        ({"kind": "503"}, "exactly one of request, count or seconds, got none"),
        ({"kind": "503", "seconds": 0}, "fault seconds must be a number more than 0, got 0"),
        ({"kind": "503", "count": 0}, "fault count must be a whole number, 1 or more, got 0"),
        ({"kind": "503", "count": 1, "for": 3}, "unknown fields ['for']"),
        ({"count": 1}, "a fault needs a kind"),
        ([], "the body must be a JSON object"),
    ],
)
def test_a_bad_fault_over_http_is_refused_saying_why(sandbox, body, error):
    answer = control(sandbox, "faults", body)

    assert answer.status_code == 400
    assert error in answer.json()["error"]
    assert reads(sandbox) == [404]


def test_the_python_forms_are_checked_too(sandbox):
    with pytest.raises(ValueError, match="count and seconds go with one fault kind"):
        sandbox.script_faults({1: "503"}, endpoint="status", seconds=5)
    with pytest.raises(ValueError, match="unknown fault kind 'failed-object'"):
        sandbox.script_faults("failed-object", endpoint="message", count=1)


def timed_read(sandbox: PlivoSandbox) -> float:
    began = time.monotonic()
    reads(sandbox)
    return time.monotonic() - began


def test_the_latency_changes_on_a_running_sandbox_over_http_and_from_python():
    with PlivoSandbox(kinder=True, latency_ms=1000) as sandbox:
        slow = timed_read(sandbox)
        answer = control(sandbox, "latency", {"ms": 0})
        fast = timed_read(sandbox)
        sandbox.set_latency(1000)
        slow_again = timed_read(sandbox)

    assert (answer.status_code, answer.json()) == (200, {"ms": 0})
    assert min(slow, slow_again) >= 1.0
    assert fast < 1.0
    assert sandbox.latency == 1.0


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"ms": -1}, "latency_ms must be a number of 0 or more milliseconds, got -1"),
        ({"ms": "fast"}, "got 'fast'"),
        ({"ms": True}, "got True"),
        ({"ms": 5, "for": 3}, "the body is {\"ms\": N}, got the fields ['for', 'ms']"),
        ({}, "got the fields []"),
        ([], "the body must be a JSON object"),
    ],
)
def test_a_bad_latency_over_http_is_refused_saying_why(body, error):
    with PlivoSandbox(kinder=True, latency_ms=50) as sandbox:
        answer = control(sandbox, "latency", body)

    assert answer.status_code == 400
    assert error in answer.json()["error"]
    assert sandbox.latency == 0.05


def test_stats_reset_over_http_and_from_python(sandbox):
    sandbox.script_faults("503", endpoint="status", count=1)
    reads(sandbox, 3)
    assert sandbox.stats["statuses"] == {"503": 1, "404": 2}

    reset = control(sandbox, "stats/reset")
    reads(sandbox)
    after_http = requests.get(f"{sandbox.url}/_sandbox/stats", timeout=5).json()
    sandbox.reset_stats()

    assert (reset.status_code, reset.json()["requests"], reset.json()["statuses"]) == (200, 0, {})
    assert (after_http["requests"], after_http["statuses"]) == (1, {"404": 1})
    assert (sandbox.stats["requests"], sandbox.stats["api_seconds"]) == (0, 0.0)
    assert sum(r.path.startswith("/v1/") for r in sandbox.requests) == 4, "the request record is kept"


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ("2:503", ScriptedFault(endpoint="media", kind="503", request=2)),
        ("message=1:lost", ScriptedFault(endpoint="message", kind="lost", request=1)),
        ("status=503x5", ScriptedFault(endpoint="status", kind="503", count=5)),
        ("status=503:20s", ScriptedFault(endpoint="status", kind="503", seconds=20.0)),
        ("status=html-502:1.5s", ScriptedFault(endpoint="status", kind="html-502", seconds=1.5)),
        ("429-retryx3", ScriptedFault(endpoint="media", kind="429-retry", count=3)),
    ],
)
def test_the_command_line_grammar(text, fault):
    assert parse_fault(text) == fault


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("two:503", "'two:503': expected N:KIND"),
        ("status=503:20", "'status=503:20': unknown fault kind '20'"),
        ("status=lostx2", "'status=lostx2': unknown fault kind 'lost'"),
        ("sms=503x2", "'sms=503x2': unknown fault endpoint 'sms'"),
        ("status=503x0", "'status=503x0': fault count must be a whole number, 1 or more, got 0"),
    ],
)
def test_a_malformed_fault_text_says_what_is_expected(text, error):
    with pytest.raises(ValueError, match="^" + error.replace("(", r"\(").replace("[", r"\[")):
        parse_fault(text)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--latency-ms", "-5"], "latency_ms must be a number of 0 or more milliseconds, got -5.0"),
        (["--fault-rate", "2"], "fault rate must be between 0 and 1, got 2.0"),
    ],
)
def test_a_bad_option_on_the_command_line_is_a_usage_error_not_a_traceback(args, error, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--port", "0", *args])

    assert exited.value.code == 2
    assert error in capsys.readouterr().err


def test_the_command_line_scripts_faults_by_count_and_by_time(sandbox_cli):
    process = sandbox_cli("--port", "0", "--kinder", "--fault", "status=503x2", "--fault", "media=500:60s")
    assert process.stdout is not None
    url = process.stdout.readline().split()[-1]
    process.stdout.readline()
    auth = ("MASANDBOX00000000000", "sandbox-auth-token")
    api = f"{url}/v1/Account/{auth[0]}/Media/"

    statuses = [status_read(url, auth) for _ in range(3)]
    uploads = [
        requests.post(api, files=[("file", ("a.png", b"x", "image/png"))], auth=auth, timeout=5).status_code
        for _ in range(2)
    ]

    assert (statuses, uploads) == ([503, 503, 404], [500, 500])
    assert requests.post(f"{url}/_sandbox/stats/reset", timeout=5).json()["requests"] == 0
