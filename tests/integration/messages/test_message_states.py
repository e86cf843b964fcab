"""Reading many message states under both of Plivo's budgets: the account's 300 per 5 s and the
message list's own 20 per minute, against the sandbox over real HTTP."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from airflow_provider_plivo.hooks.plivo import PlivoHook
from airflow_provider_plivo.transport.limiter import INITIAL_CONCURRENCY, AccountLimiter

if TYPE_CHECKING:
    from airflow_provider_plivo.sandbox import PlivoSandbox, SandboxRequest

SRC = "+14155550100"


def numbers(count: int) -> list[str]:
    return [f"+1415{200 + i // 10_000:03d}{i % 10_000:04d}" for i in range(count)]


def list_reads(sandbox: PlivoSandbox) -> list[SandboxRequest]:
    return [r for r in sandbox.requests if r.method == "GET" and r.path.rstrip("/").endswith("/Message")]


def single_reads(sandbox: PlivoSandbox) -> list[SandboxRequest]:
    return [
        r
        for r in sandbox.requests
        if r.method == "GET" and "/Message/" in r.path and not r.path.rstrip("/").endswith("/Message")
    ]


def test_a_throttled_list_is_answered_by_single_reads_and_uploads_keep_their_pace(
    plivo_sandbox_factory, make_media
):
    sandbox = plivo_sandbox_factory(message_list_rate_limit=(20, 60.0))
    hook = PlivoHook(retry_wait_initial=0.05)
    sent = list(hook.send_message(src=SRC, dst=numbers(21), text="hi"))
    other_process = PlivoHook(message_list_rate_limit=None)  # another worker, unseen by our limiter
    other_process.limiter.account = AccountLimiter(name="another process")
    for _ in range(20):
        other_process.get_conn().call("GET", "Message/", params={"limit": 1})

    states = hook.get_messages(sent)

    assert list(states) == sent
    ours = list_reads(sandbox)[20:]
    assert [r.status for r in ours] == [429]  # not retried: single reads answered
    assert len(single_reads(sandbox)) == 21
    assert hook.limiter.rate == 300
    assert hook.limiter.account.limits.throttles == 0  # concurrency may step back on slow answers, not cut
    assert hook.limiter.message_list_room() == 0  # the list waits for a place to free

    sandbox.set_latency(500)  # uploads out long enough to be seen together, even on a busy machine
    sandbox.api.peak_in_flight = 0  # the uploads' own peak, not the single reads'
    hook.upload_media(make_media(400))
    uploads = [r for r in sandbox.requests if r.method == "POST" and "/Media" in r.path]
    assert len(uploads) == 40
    assert sandbox.peak_in_flight > INITIAL_CONCURRENCY // 2  # a cut would have left 16


def test_one_unknown_message_among_30_leaves_the_others_answered(plivo_sandbox, capfd):
    hook = PlivoHook()
    sent = list(hook.send_message(src=SRC, dst=numbers(29), text="hi"))
    unknown = str(uuid.uuid4())
    asked = [*sent[:10], unknown, *sent[10:]]

    states = hook.get_messages(asked)

    assert list(states) == sent
    assert f"Plivo knows no message {unknown} (HTTP 404)" in capfd.readouterr().out


def test_a_poll_over_2500_messages_keeps_to_the_lists_20_a_minute(plivo_sandbox_factory):
    plivo_sandbox = plivo_sandbox_factory(message_list_rate_limit=(20, 60.0))
    hook = PlivoHook()
    sent = list(hook.send_message(src=SRC, dst=numbers(2500), text="hi"))

    states = hook.get_messages(sent)
    again = hook.get_messages(sent[:100])  # within the same minute: the list has no room left

    assert list(states) == sent
    assert list(again) == sent[:100]
    reads = [r.status for r in plivo_sandbox.requests if r.method == "GET"]
    assert 429 not in reads
    assert len(list_reads(plivo_sandbox)) == 20  # 400 messages from the list, the rest singly
    assert len(single_reads(plivo_sandbox)) == 1 + (2500 - 1 - 400) + 100


def test_list_messages_keeps_to_the_lists_own_limit(plivo_sandbox_factory):
    sandbox = plivo_sandbox_factory(message_list_rate_limit=(2, 0.5))
    hook = PlivoHook(message_list_rate_limit=2, message_list_rate_limit_period=0.5)
    sent = list(hook.send_message(src=SRC, dst=numbers(50), text="hi"))

    listed = hook.list_messages(message_direction="outbound")

    assert sorted(m["message_uuid"] for m in listed) == sorted(sent)
    assert [r.status for r in list_reads(sandbox)] == [200, 200, 200]  # the third waited, no 429
