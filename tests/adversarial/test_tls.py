"""A certificate that fails verification is permanent: no retry can fix it, so none is made, and
the error says what to check. Both drivers, against a loopback TLS server with a self-signed
certificate."""

from __future__ import annotations

import asyncio
import datetime
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_plivo._airflow.fail_fast import is_permanent
from airflow_provider_plivo.exceptions import PlivoTLSError
from airflow_provider_plivo.hooks.plivo import PlivoHook

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not-plivo.example")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@pytest.fixture
def untrusted_host(tmp_path: Path, plivo_env: Any) -> Iterator[list[str]]:
    """``plivo_default`` at an https server on loopback whose certificate nobody signed; yields
    the paths it served (none, if every handshake failed)."""
    served: list[str] = []

    class Ok(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    cert, key = self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with ThreadingHTTPServer(("127.0.0.1", 0), Ok) as server:
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        plivo_env(f"https://127.0.0.1:{server.server_address[1]}", login="MA1", password="t")
        try:
            yield served
        finally:
            server.shutdown()


def hook() -> PlivoHook:
    return PlivoHook(retry_attempts=5, retry_wait_initial=0.01)


def test_an_unverifiable_certificate_fails_at_once_and_says_what_to_check(untrusted_host, caplog):
    with pytest.raises(PlivoTLSError) as raised:
        hook().get_media("m1")

    assert "could not be verified" in str(raised.value)
    assert "CA bundle" in str(raised.value)
    assert is_permanent(raised.value)
    assert "retrying" not in caplog.text
    assert untrusted_host == []


def test_the_async_client_treats_it_alike(untrusted_host, caplog):
    async def fetch() -> None:
        async with await hook().aget_client() as client:
            await client.call("GET", "Media/m1/")

    with pytest.raises(PlivoTLSError):
        asyncio.run(fetch())

    assert "retrying" not in caplog.text
