"""A 204 with an empty body (``DELETE Message/{uuid}/Media/``) is success, through both drivers,
from a loopback server of our own (the sandbox has no such endpoint)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from airflow_provider_plivo.hooks.plivo import PlivoHook
from airflow_provider_plivo.transport.core import Request
from tests.support.canned_plivo import canned_plivo

DELETE_MEDIA = Request("DELETE", "Message/3f2c0000-0000-4000-8000-000000000001/Media/")


def execute_blocking(request: Request) -> Any:
    return PlivoHook(retry_wait_initial=0.01).client.execute(request)


def execute_async(request: Request) -> Any:
    async def main() -> Any:
        async with await PlivoHook(retry_wait_initial=0.01).aget_client() as client:
            return await client.execute(request)

    return asyncio.run(main())


@pytest.mark.parametrize("execute", [execute_blocking, execute_async], ids=["blocking", "async"])
def test_a_204_with_no_body_is_success_and_not_retried(plivo_env, execute):
    with canned_plivo(plivo_env, lambda method, path: (204, None)) as served:
        assert execute(DELETE_MEDIA) == {}

    assert served == [("DELETE", "/v1/Account/MA1/Message/3f2c0000-0000-4000-8000-000000000001/Media/")]
