"""Reading a plivo connection: base URL, https rule, timeout, and what an error may show."""

from __future__ import annotations

import json

import pytest
from airflow.sdk import Connection

from airflow_provider_plivo.exceptions import PlivoError
from airflow_provider_plivo.transport.account import DEFAULT_BASE_URL, DEFAULT_TIMEOUT, PlivoAccount


def account(**fields) -> PlivoAccount:
    extra = fields.pop("extra", None)
    fields.setdefault("login", "MAXXXXXXXXXXXXXXXXXX")
    fields.setdefault("password", "s3cret-token")
    conn = Connection(
        conn_id="plivo_test", conn_type="plivo", extra=json.dumps(extra) if extra else None, **fields
    )
    return PlivoAccount.from_connection(conn)


def test_defaults_to_plivo_over_https():
    acct = account()
    assert acct.base_url == DEFAULT_BASE_URL == "https://api.plivo.com"
    assert acct.api_root == "https://api.plivo.com/v1/Account/MAXXXXXXXXXXXXXXXXXX/"
    assert acct.timeout == DEFAULT_TIMEOUT


@pytest.mark.parametrize(
    ("fields", "base_url"),
    [
        ({"host": "https://eu.example.com/"}, "https://eu.example.com"),
        ({"host": "eu.example.com"}, "https://eu.example.com"),
        ({"host": "http://127.0.0.1:8080"}, "http://127.0.0.1:8080"),
        ({"host": "http://localhost:9000"}, "http://localhost:9000"),
        ({"host": "http://[::1]:9000"}, "http://[::1]:9000"),
        ({"host": "127.0.0.1", "schema": "http", "port": 8080}, "http://127.0.0.1:8080"),
    ],
)
def test_host_may_be_a_url_or_a_host_name(fields, base_url):
    assert account(**fields).base_url == base_url


@pytest.mark.parametrize("host", ["http://api.plivo.com", "http://10.0.0.5:8080", "ftp://example.com"])
def test_plain_http_is_refused_unless_loopback(host):
    with pytest.raises(PlivoError, match="https is required"):
        account(host=host)


def test_credentials_pasted_into_the_host_are_never_echoed():
    with pytest.raises(PlivoError) as raised:
        account(host="http://MAXX:s3cret-token@api.example.com")
    assert "s3cret-token" not in str(raised.value)
    assert "api.example.com" in str(raised.value)


def test_timeout_comes_from_the_extra():
    assert account(extra={"timeout": 2}).timeout == 2.0


@pytest.mark.parametrize("timeout", [0, -1, "soon", None])
def test_timeout_must_be_a_positive_number(timeout):
    with pytest.raises(PlivoError, match="extra 'timeout' must be a positive number"):
        account(extra={"timeout": timeout})


@pytest.mark.parametrize("missing", ["login", "password"])
def test_auth_id_and_token_are_required(missing):
    with pytest.raises(PlivoError, match="needs the Plivo Auth ID as login and the Auth Token as password"):
        account(**{missing: None})


def test_repr_never_shows_the_token():
    assert "s3cret-token" not in repr(account())


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"host": "ftp://127.0.0.1"}, "host (API base URL) ftp://127.0.0.1 is refused: https is required"),
        ({"host": "https:example.com"}, "host (API base URL) 'https:example.com' is not a URL"),
        ({"host": "https://"}, "host (API base URL) names no host"),
        ({"host": "https://api.example.com:99999"}, "host (API base URL): the port must be a number"),
        ({"extra": {"timeout": "inf"}}, "extra 'timeout' must be a positive number of seconds (finite)"),
        ({"login": None, "password": None}, "has no login (Auth ID) and password (Auth Token)"),
    ],
)
def test_each_bad_field_is_named_before_any_request(fields, message):
    with pytest.raises(PlivoError) as raised:
        account(**fields)

    assert message in str(raised.value)
    assert "'plivo_test'" in str(raised.value)
