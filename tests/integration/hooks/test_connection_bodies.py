"""test_connection never raises, whatever a server answers: bodies Plivo recorded (``"meta":
null``, no ``total_count``) and shapes it never should (a list for the page, a list for ``meta``,
HTML), from a loopback server of our own."""

from __future__ import annotations

import pytest

from airflow_provider_plivo.hooks.plivo import PlivoHook
from tests.support.canned_plivo import canned_plivo

CONNECTED = "Connected to Plivo as MA1"


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, {"meta": {"total_count": 1234}, "objects": []}, (True, f"{CONNECTED} (1,234 media stored)")),
        (200, {"meta": None, "objects": []}, (True, f"{CONNECTED} (unknown media stored)")),
        (200, {"meta": [], "objects": {}}, (True, f"{CONNECTED} (unknown media stored)")),
        (200, {"meta": {"total_count": None}}, (True, f"{CONNECTED} (unknown media stored)")),
        (200, {"meta": {"total_count": "lots"}}, (True, f"{CONNECTED} (unknown media stored)")),
        (200, {"meta": {"total_count": True}}, (True, f"{CONNECTED} (unknown media stored)")),
        (200, {"meta": {"total_count": [1, 2]}}, (True, f"{CONNECTED} (unknown media stored)")),
        (204, None, (True, f"{CONNECTED} (unknown media stored)")),
        (200, [{"media_id": "m1"}], (False, "body that is not its JSON")),
        (200, "ok", (False, "body that is not its JSON")),
        (200, None, (False, "body that is not its JSON")),
        (200, b"<html>maintenance</html>", (False, "body that is not its JSON")),
        (500, {"error": ["a", "list"]}, (False, 'HTTP 500 to GET Media/: ["a", "list"]')),
        (401, [], (False, "authentication failed")),
    ],
)
def test_test_connection_answers_every_body_without_raising(plivo_env, status, body, expected):
    with canned_plivo(plivo_env, lambda method, path: (status, body)) as served:
        ok, message = PlivoHook().test_connection()

    assert ok is expected[0]
    assert (message == expected[1]) if ok else (expected[1] in message), message
    assert len(served) == 1  # one attempt, no retry


def test_test_connection_survives_a_server_that_closes_without_answering(plivo_env):
    import socket
    import threading

    with socket.socket() as rude:
        rude.bind(("127.0.0.1", 0))
        rude.listen(1)

        def hang_up() -> None:
            connection, _ = rude.accept()
            connection.close()

        threading.Thread(target=hang_up, daemon=True).start()
        plivo_env(f"http://127.0.0.1:{rude.getsockname()[1]}", login="MA1", password="t")
        ok, message = PlivoHook().test_connection()

    assert not ok
    assert "failed" in message
