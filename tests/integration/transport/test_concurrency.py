"""Concurrent uploads stay within max_concurrency and the account's limits, learning them when
the account is busier than the hook knows."""

from __future__ import annotations

import pytest

from airflow_provider_plivo.hooks.plivo import PlivoHook
from airflow_provider_plivo.operators.media import PlivoMediaUploadOperator
from airflow_provider_plivo.sandbox import PlivoSandbox
from airflow_provider_plivo.transport.limiter import INITIAL_CONCURRENCY


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
        unlimited = PlivoHook(
            chunk_size=1, rate_limit=None, adaptive=False, retry_wait_initial=0.05, retry_attempts=10
        )
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


def test_an_upload_learns_a_busier_account_and_stores_every_file_once(sandbox_env, make_media):
    files = make_media(300)
    sandbox = sandbox_env(max_in_flight=8, rate_limit=(50, 1.0), latency_ms=200)
    try:
        hook = PlivoHook(rate_limit=50, rate_limit_period=1.0, retry_wait_initial=0.05)
        records = hook.upload_media(files)
    finally:
        sandbox.stop()

    statuses = [r.status for r in sandbox.requests]
    assert 429 in statuses  # the hook started at 32 in flight, the account allows 8: it cut back
    assert statuses.count(200) == 30
    assert len(sandbox.media) == 300
    assert sorted(sandbox.media) == sorted(r["media_id"] for r in records)
    assert hook.limiter.concurrency < INITIAL_CONCURRENCY
    assert hook.limiter.throttles == statuses.count(429)


def test_adaptive_off_keeps_max_concurrency_in_flight(sandbox_env, make_media):
    sandbox = sandbox_env(latency_ms=300)
    try:
        PlivoHook(max_concurrency=24, adaptive=False).upload_media(make_media(240))
    finally:
        sandbox.stop()

    assert 20 <= sandbox.peak_in_flight <= 24


def test_max_concurrency_of_the_operator_is_a_ceiling_and_hook_params_can_turn_adaptation_off(plivo_env):
    plivo_env("http://127.0.0.1:9", login="MA1", password="t")
    ceiling = PlivoMediaUploadOperator(task_id="upload", files=["a.jpg"], max_concurrency=40).hook
    fixed = PlivoMediaUploadOperator(task_id="upload", files=["a.jpg"], hook_params={"adaptive": False}).hook

    assert (ceiling.limiter.max_concurrency, ceiling.limiter.concurrency, ceiling.limiter.adaptive) == (
        40,
        INITIAL_CONCURRENCY,
        True,
    )
    assert (fixed.limiter.concurrency, fixed.limiter.rate, fixed.limiter.adaptive) == (100, 300, False)
