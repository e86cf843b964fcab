"""Reading a ``plivo`` connection: credentials, API base URL, request timeout.

Kept free of Airflow imports: ``get_provider_info`` reads the defaults while Airflow is still
loading its own configuration.
"""

from __future__ import annotations

import base64
import ipaddress
import math
import re
import unicodedata
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_plivo.exceptions import PlivoError

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_TIMEOUT", "PlivoAccount"]

DEFAULT_BASE_URL = "https://api.plivo.com"
_SCHEME_WITHOUT_SLASHES = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:(?!\d+(/|$))")
"""``https:example.com``: a scheme typed without ``//`` (``localhost:8765`` is a host and port)."""
DEFAULT_TIMEOUT = 30.0
"""Seconds any one request may take when the connection's extra sets no ``timeout``."""


class PlivoAccount:
    """Where and as whom to call Plivo, read once from a ``plivo`` connection."""

    def __init__(self, *, auth_id: str, auth_token: str, base_url: str, timeout: float) -> None:
        self.auth_id = auth_id
        self.auth_token = auth_token
        self.base_url = base_url
        self.timeout = timeout
        self.api_root = f"{base_url}/v1/Account/{auth_id}/"

    def __repr__(self) -> str:
        return f"PlivoAccount(auth_id={self.auth_id!r}, base_url={self.base_url!r})"

    @property
    def secrets(self) -> tuple[str, ...]:
        """What no error text may repeat: the Auth Token, and the Basic credentials built from it."""
        basic = base64.b64encode(f"{self.auth_id}:{self.auth_token}".encode()).decode()
        return (self.auth_token, basic)

    @classmethod
    def from_connection(cls, conn: Any) -> PlivoAccount:
        name = conn.conn_id
        if not conn.login or not conn.password:
            missing = " and ".join(
                field
                for field, value in (
                    ("login (Auth ID)", conn.login),
                    ("password (Auth Token)", conn.password),
                )
                if not value
            )
            raise PlivoError(
                f"Connection {name!r} has no {missing}: it needs the Plivo Auth ID as login "
                "and the Auth Token as password"
            )
        for field, value in (("login (Auth ID)", conn.login), ("password (Auth Token)", conn.password)):
            if problem := _header_problem(value):
                raise PlivoError(
                    f"Connection {name!r}: {field} holds {problem}, which an HTTP header cannot carry; "
                    "paste it again without it"
                )
        raw_timeout = conn.extra_dejson.get("timeout", DEFAULT_TIMEOUT)
        try:
            timeout = float(raw_timeout)
        except (TypeError, ValueError):
            timeout = -1.0
        if not 0 < timeout < math.inf:
            raise PlivoError(
                f"Connection {name!r}: extra 'timeout' must be a positive number of seconds "
                f"(finite), got {raw_timeout!r}"
            )
        return cls(
            auth_id=conn.login,
            auth_token=conn.password,
            base_url=_base_url(conn.host, schema=conn.schema, port=conn.port, conn_id=name),
            timeout=timeout,
        )


def _header_problem(value: str) -> str | None:
    """Where ``value`` holds a character Basic auth cannot send (a pasted zero-width space, a
    newline...), named without the value itself; None when it has none."""
    for position, char in enumerate(str(value), start=1):
        if not " " < char < "\x7f":
            return (
                f"{unicodedata.name(char, 'a control character')} (U+{ord(char):04X}) at character {position}"
            )
    return None


def _base_url(host: str | None, *, schema: str | None, port: int | None, conn_id: str) -> str:
    """The API origin from the connection's host (a URL or a bare host name); https unless loopback."""
    if not host:
        return DEFAULT_BASE_URL
    field = f"Connection {conn_id!r}: host (API base URL)"
    if "://" not in host and _SCHEME_WITHOUT_SLASHES.match(host):
        raise PlivoError(f"{field} {host!r} is not a URL; expected e.g. https://api.plivo.com")
    if "://" not in host:
        host = f"{schema or 'https'}://{host}" + (f":{port}" if port else "")
    parts = urlsplit(host.rstrip("/"))
    hostname = parts.hostname or ""
    if not hostname:
        raise PlivoError(f"{field} names no host; expected e.g. https://api.plivo.com")
    try:
        port_number = parts.port
    except ValueError:
        raise PlivoError(f"{field}: the port must be a number from 1 to 65535") from None
    # Rebuilt from host and port so that credentials pasted into the URL are never echoed.
    origin = f"{parts.scheme}://{f'[{hostname}]' if ':' in hostname else hostname}"
    origin += f":{port_number}" if port_number else ""
    if parts.scheme not in ("https", "http") or (parts.scheme == "http" and not _is_loopback(hostname)):
        raise PlivoError(
            f"{field} {origin} is refused: https is required "
            "(plain http is allowed only for loopback hosts such as the sandbox)"
        )
    return origin + parts.path


def _is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False
