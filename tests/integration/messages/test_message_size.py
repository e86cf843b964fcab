"""The 5 MB of one message (Plivo error 120), checked before sending through both drivers and the
notifier's async path, against the sandbox over real HTTP."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

import pytest

from airflow_provider_plivo.exceptions import PlivoMessageValidationError, PlivoUnknownMediaError
from airflow_provider_plivo.hooks.plivo import PlivoHook
from airflow_provider_plivo.notifications.plivo import PlivoNotifier

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow.sdk import Context

    from airflow_provider_plivo.sandbox import PlivoSandbox

SRC = "+14155550100"
DST = "+14155550101"


def hook() -> PlivoHook:
    return PlivoHook(retry_wait_initial=0.05, retry_wait_max=0.2)


@pytest.fixture(params=["blocking", "async"])
def send(request) -> Callable[..., Any]:
    """Send a message through one driver: the hook's blocking ``send_message`` or ``asend_message``."""
    if request.param == "blocking":
        return lambda **message: hook().send_message(src=SRC, dst=DST, **message)

    def send_async(**message: Any) -> Any:
        async def main() -> Any:
            async with await hook().aget_client() as client:
                return await hook().asend_message(client, src=SRC, dst=DST, **message)

        return asyncio.run(main())

    return send_async


def uploaded(make_media: Callable[..., list[str]], count: int, size: int) -> list[str]:
    return [r["media_id"] for r in hook().upload_media(make_media(count, ("jpg", "png"), size=size))]


def requests_to(sandbox: PlivoSandbox, method: str, path_part: str) -> int:
    return sum(1 for r in sandbox.requests if r.method == method and path_part in r.path)


def test_media_over_5_mb_fail_before_sending_naming_each_with_its_size(plivo_sandbox, make_media, send):
    media_ids = uploaded(make_media, 3, 1_700_000)  # each under 2 MB, together over 5 MB

    with pytest.raises(PlivoMessageValidationError) as raised:
        send(text="hello", media_ids=media_ids)

    assert raised.value.problems == [
        "media and text come to 5,100,005 bytes; Plivo takes less than 5,000,000 bytes in one message "
        f"(error 120): media {media_ids[0]}: 1,700,000 bytes; media {media_ids[1]}: 1,700,000 bytes; "
        f"media {media_ids[2]}: 1,700,000 bytes; text: 5 bytes"
    ]
    assert requests_to(plivo_sandbox, "GET", "/Media/") == 3
    assert requests_to(plivo_sandbox, "POST", "/Message/") == 0


def test_media_under_5_mb_are_sent_after_one_look_up_each(plivo_sandbox, make_media, send):
    media_ids = uploaded(make_media, 3, 1_600_000)

    sent = send(text="hello", media_ids=media_ids)

    assert len(sent) == 1
    assert requests_to(plivo_sandbox, "GET", "/Media/") == 3


def test_two_media_cannot_reach_5_mb_and_cost_no_look_up(plivo_sandbox, make_media, send):
    media_ids = uploaded(make_media, 2, 1_900_000)

    send(text="hello", media_ids=media_ids)

    assert requests_to(plivo_sandbox, "GET", "/Media/") == 0
    assert requests_to(plivo_sandbox, "POST", "/Message/") == 1


def test_an_expired_media_id_is_named_before_anything_is_sent(plivo_sandbox, make_media, send):
    media_ids = uploaded(make_media, 3, 1_000)
    plivo_sandbox.advance_clock(timedelta(hours=6, seconds=1))

    with pytest.raises(PlivoUnknownMediaError, match=f"media {media_ids[0]} not found"):
        send(text="hello", media_ids=media_ids)

    assert requests_to(plivo_sandbox, "POST", "/Message/") == 0


def test_the_notifier_in_a_deadline_alert_checks_alike(plivo_sandbox, make_media):
    media_ids = uploaded(make_media, 3, 1_700_000)
    notifier = PlivoNotifier(src=SRC, dst=[DST], text="late", media_ids=media_ids)
    notifier.render_template_fields({})

    with pytest.raises(PlivoMessageValidationError, match="Plivo takes less than 5,000,000 bytes"):
        asyncio.run(notifier.async_notify(cast("Context", {})))

    assert requests_to(plivo_sandbox, "POST", "/Message/") == 0
