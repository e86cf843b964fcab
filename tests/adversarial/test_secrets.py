"""Secrets under a hostile world: a token pasted with a character HTTP headers cannot carry, and
hosts that echo the request's headers (Authorization included) in their error pages. No token and
no Basic credentials may reach an error text, its pickle, its causes, or test_connection's reason."""

from __future__ import annotations

import base64
import json
import pickle
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_plivo.exceptions import (
    PlivoAPIError,
    PlivoAuthenticationError,
    PlivoConnectionError,
    PlivoError,
    PlivoResponseError,
    PlivoRetryableAPIError,
)
from airflow_provider_plivo.hooks.plivo import PlivoHook

if TYPE_CHECKING:
    from collections.abc import Iterator

TOKEN = "s3cr3t-T0ken-value-XYZ"
AUTH_ID = "MA1234567890ABCDEFGH"
BASIC = base64.b64encode(f"{AUTH_ID}:{TOKEN}".encode()).decode()


def leaks(*texts: object) -> list[str]:
    return [str(t) for t in texts if TOKEN in str(t) or BASIC in str(t)]


def chain(err: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    while err is not None and err not in seen:
        seen.append(err)
        err = err.__cause__ or err.__context__  # type: ignore[assignment]
    return seen


def quick_hook() -> PlivoHook:
    return PlivoHook(retry_attempts=1)


@pytest.mark.parametrize(
    "pasted", ["\u200b", " ", "\n", "é"], ids=["zero-width-space", "space", "newline", "accent"]
)
def test_a_token_headers_cannot_carry_is_named_without_its_value(plivo_env, pasted):
    token = TOKEN[:5] + pasted + TOKEN[5:]
    plivo_env("http://127.0.0.1:9", login=AUTH_ID, password=token)

    with pytest.raises(PlivoError) as raised:
        quick_hook().get_media("m1")
    ok, reason = quick_hook().test_connection()

    assert not ok
    assert "password (Auth Token)" in str(raised.value)
    assert "at character 6" in str(raised.value)
    assert reason == str(raised.value)
    for text in (str(raised.value), repr(raised.value), pickle.dumps(raised.value), reason):
        assert token.encode() not in (text if isinstance(text, bytes) else text.encode())
        assert TOKEN[5:].encode() not in (text if isinstance(text, bytes) else text.encode())


@contextmanager
def echoing_host(plivo_env: Any, status: int, *, as_json: bool) -> Iterator[None]:
    """A loopback host that answers every request with ``status`` and the request's own headers."""

    class Echo(BaseHTTPRequestHandler):
        def _echo(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            headers = "".join(f"{k}: {v}\n" for k, v in self.headers.items())
            body = json.dumps({"error": headers}) if as_json else f"<html><pre>{headers}</pre></html>"
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if as_json else "text/html")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _echo

        def log_message(self, *args: object) -> None:
            pass

    with ThreadingHTTPServer(("127.0.0.1", 0), Echo) as server:
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        plivo_env(f"http://127.0.0.1:{server.server_address[1]}", login=AUTH_ID, password=TOKEN)
        try:
            yield
        finally:
            server.shutdown()


@pytest.mark.parametrize(
    ("status", "as_json", "error"),
    [
        (502, False, PlivoRetryableAPIError),
        (401, True, PlivoAuthenticationError),
        (400, True, PlivoAPIError),
        (200, False, PlivoResponseError),
    ],
)
def test_an_echoing_host_leaks_no_credentials_into_errors_or_test_connection(
    plivo_env, status, as_json, error
):
    with echoing_host(plivo_env, status, as_json=as_json):
        with pytest.raises(error) as raised:
            quick_hook().get_media("m1")
        ok, reason = quick_hook().test_connection()
        with pytest.raises(PlivoError) as sent:
            quick_hook().send_message(src="+14155550100", dst="+14155550101", text="hi")

    assert "Authorization" in str(raised.value) or status == 200  # the echo did reach the error
    assert not ok
    for err in (raised.value, sent.value):
        assert not leaks(str(err), repr(err), vars(err), pickle.dumps(err))
    assert not leaks(reason)
    assert "Basic ***" in str(raised.value)


def test_a_connection_error_keeps_no_request_with_credentials_in_its_causes(plivo_env, refused_port):
    plivo_env(f"http://127.0.0.1:{refused_port}", login=AUTH_ID, password=TOKEN)

    with pytest.raises(PlivoConnectionError) as raised:
        quick_hook().get_media("m1")

    for err in chain(raised.value):
        assert getattr(err, "request", None) is None
        assert not leaks(str(err), repr(err), {k: repr(v) for k, v in vars(err).items()})


def test_the_async_client_keeps_no_request_in_its_causes_either(plivo_env, refused_port):
    import asyncio

    plivo_env(f"http://127.0.0.1:{refused_port}", login=AUTH_ID, password=TOKEN)

    async def fetch() -> None:
        hook = quick_hook()
        async with await hook.aget_client() as client:
            await client.call("GET", "Media/m1/")

    with pytest.raises(PlivoConnectionError) as raised:
        asyncio.run(fetch())

    for err in chain(raised.value):
        assert getattr(err, "_request", None) is None
        assert not leaks(str(err), repr(err), {k: repr(v) for k, v in vars(err).items()})
