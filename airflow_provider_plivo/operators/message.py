"""PlivoSendMessageOperator: send one SMS or MMS to one or more numbers."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from airflow_provider_plivo.hooks.plivo import PlivoHook
from airflow_provider_plivo.utils.templating import string_list

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context

__all__ = ["PlivoSendMessageOperator"]


class PlivoSendMessageOperator(BaseOperator):
    """
    Send a message through Plivo in one request and return its message UUIDs (one per number).

    The type is ``mms`` when media is given; ``media_ids=upload.output`` takes the IDs from a
    :class:`~airflow_provider_plivo.operators.media.PlivoMediaUploadOperator` as they are.
    Everything is checked before sending: ``src`` or ``powerpack_uuid``, numbers in E.164 form,
    at most 10 media, text at most 1,600 characters, MMS only to +1 numbers.

    A send is retried only where Plivo surely did not act on it (no connection, 429, 503), so an
    Airflow retry of this task is the one way a message could go out twice: keep ``retries``
    at 0 unless a duplicate is acceptable.

    :param src: (templated) the sending number, E.164.
    :param dst: (templated) a number or a list of numbers, E.164; sent as one request.
    :param text: (templated) up to 1,600 characters.
    :param media_ids: (templated) media IDs from an upload; with ``media_urls``, at most 10.
    :param media_urls: (templated) public URLs of media to attach.
    :param powerpack_uuid: send from a Powerpack instead of ``src``.
    :param plivo_conn_id: the ``plivo`` connection; upload and send with the same account.
    :param message_params: further Plivo message parameters (``url``, ``method``, ``log``...).
    """

    template_fields: Sequence[str] = ("src", "dst", "text", "media_ids", "media_urls", "plivo_conn_id")
    template_fields_renderers: ClassVar[dict[str, str]] = {
        "dst": "json",
        "media_ids": "json",
        "media_urls": "json",
    }
    # No template_ext: a text ending in .txt or .csv is a message, not a template file to read.
    template_ext: Sequence[str] = ()
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        src: str | None = None,
        dst: str | Sequence[str],
        text: str | None = None,
        media_ids: str | Sequence[str] | None = None,
        media_urls: str | Sequence[str] | None = None,
        powerpack_uuid: str | None = None,
        plivo_conn_id: str = PlivoHook.default_conn_name,
        message_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.src = src
        self.dst = dst
        self.text = text
        self.media_ids = media_ids
        self.media_urls = media_urls
        self.powerpack_uuid = powerpack_uuid
        self.plivo_conn_id = plivo_conn_id
        self.message_params = message_params or {}

    @cached_property
    def hook(self) -> PlivoHook:
        return PlivoHook(self.plivo_conn_id)

    def execute(self, context: Context) -> list[str]:
        return self.hook.send_message(
            src=self.src or None,
            dst=string_list(self.dst, argument="dst"),
            text=self.text or None,
            media_ids=string_list(self.media_ids or [], argument="media_ids"),
            media_urls=string_list(self.media_urls or [], argument="media_urls"),
            powerpack_uuid=self.powerpack_uuid,
            **self.message_params,
        )
