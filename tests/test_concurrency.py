"""Concurrent uploads stay within max_concurrency and the account's rate limit."""

from __future__ import annotations

import pytest

from airflow_provider_plivo.hooks.plivo import PlivoHook
from airflow_provider_plivo.sandbox import PlivoSandbox


@pytest.fixture
def sandbox_env(plivo_env):
    def start(**options) -> PlivoSandbox:
        sandbox = PlivoSandbox(**options).start()
        plivo_env(sandbox.url, login=sandbox.auth_id, password=sandbox.auth_token)
        return sandbox

    return start


@pytest.mark.parametrize("max_concurrency", [1, 3])
def test_requests_in_flight_never_exceed_max_concurrency(sandbox_env, make_media, max_concurrency):
    sandbox = sandbox_env(latency_ms=100)
    try:
        records = PlivoHook(max_concurrency=max_concurrency).upload_media(make_media(60))
    finally:
        sandbox.stop()

    assert len(records) == 60
    assert sandbox.count_requests("POST", "/Media/") == 6
    assert max(1, max_concurrency - 1) <= sandbox.peak_in_flight <= max_concurrency


def test_client_rate_limit_keeps_a_limited_server_from_answering_429(sandbox_env, make_media):
    files = make_media(40)
    sandbox = sandbox_env(rate_limit=(10, 0.5))
    try:
        limited = PlivoHook(chunk_size=1, rate_limit=10, rate_limit_period=0.5, retry_wait_initial=0.05)
        records = limited.upload_media(files)
    finally:
        sandbox.stop()

    assert len(records) == 40
    assert [r.status for r in sandbox.requests] == [200] * 40


def test_without_the_client_limit_the_same_server_answers_429(sandbox_env, make_media):
    files = make_media(40)
    sandbox = sandbox_env(rate_limit=(10, 0.5))
    try:
        unlimited = PlivoHook(chunk_size=1, rate_limit=None, retry_wait_initial=0.05, retry_attempts=10)
        records = unlimited.upload_media(files)
    finally:
        sandbox.stop()

    assert len(records) == 40
    assert 429 in [r.status for r in sandbox.requests]


def test_concurrent_results_keep_input_order(sandbox_env, make_media):
    files = make_media(35, ("jpg", "png", "gif"))
    sandbox = sandbox_env(latency_ms=20)
    try:
        records = PlivoHook(chunk_size=2, max_concurrency=8).upload_media(list(reversed(files)))
    finally:
        sandbox.stop()

    assert [r["file"] for r in records] == list(reversed(files))
    assert all(sandbox.media[r["media_id"]].file_name == r["file"].rsplit("/", 1)[1] for r in records)
