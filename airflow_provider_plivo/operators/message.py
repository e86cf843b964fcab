"""PlivoSendMessageOperator: send one SMS or MMS to any number of recipients, exactly once each."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from airflow_provider_plivo._airflow.base import PlivoTask
from airflow_provider_plivo._airflow.fail_fast import fail_fast
from airflow_provider_plivo._airflow.send_ledger import TaskStateSendLedger
from airflow_provider_plivo._airflow.templating import rendered_message
from airflow_provider_plivo.hooks.plivo import PlivoHook
from airflow_provider_plivo.version_compat import task_state_store

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context

__all__ = ["PlivoSendMessageOperator"]


class PlivoSendMessageOperator(PlivoTask, BaseOperator):
    """
    Send a message through Plivo to any number of recipients and return its message UUIDs (one
    per number messaged).

    ``dst`` may hold any number of numbers: each gets one message however often it is listed,
    and they go to Plivo in requests of at most 1,000. The type is ``mms`` when media is given;
    ``media_ids=upload.output`` takes the IDs from a
    :class:`~airflow_provider_plivo.operators.media.PlivoMediaUploadOperator` as they are.
    Everything is checked before sending: ``src`` or ``powerpack_uuid``, numbers in E.164 form
    (North American ones against the numbering plan), at most 10 media, text at most 1,600
    characters, MMS only to the US and Canada.

    XComs: ``return_value`` the UUIDs; ``messages`` who got which (``[{"number",
    "message_uuid"}]``, for downstream tasks and the sensor); ``invalid_numbers`` the numbers
    Plivo refused as invalid (also logged as a warning; the task still succeeds, as the others
    were messaged).

    Retries are safe on Airflow 3.3+: each request is recorded in the task state store before it
    goes and once answered, so a later try reuses the answers and looks up a request whose
    answer never came in Plivo's message list: no number is messaged twice. Before 3.3 a retry
    sends again to every number. Errors no retry can fix (bad input, refused credentials, unknown
    media, a message Plivo refuses) fail the task at once, without using its retries.

    :param src: (templated) the sending number, E.164.
    :param dst: (templated) a number, a list of numbers, or numbers joined with ``<``.
    :param text: (templated) up to 1,600 characters.
    :param media_ids: (templated) media IDs from an upload; with ``media_urls``, at most 10.
    :param media_urls: (templated) public URLs of media to attach.
    :param powerpack_uuid: send from a Powerpack instead of ``src``.
    :param plivo_conn_id: (templated) the ``plivo`` connection; upload and send with the same account.
    :param message_params: further Plivo message parameters (``url``, ``method``, ``log``...).
    :param hook_params: further :class:`~airflow_provider_plivo.hooks.plivo.PlivoHook` arguments
        (retries, ceilings, ``adaptive``), e.g. ``{"max_concurrency": 20}``.
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
        hook_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.src = src
        self.dst = dst
        self.text = text
        self.media_ids = media_ids
        self.media_urls = media_urls
        self.powerpack_uuid = powerpack_uuid
        self.message_params = message_params or {}
        self._use_plivo(plivo_conn_id, hook_params)

    def execute(self, context: Context) -> list[str]:
        store = task_state_store(context)
        if store is None:
            self.log.info(
                "Airflow before 3.3 has no task state store: a retry of this task messages every number again"
            )
        with fail_fast():
            sent = self.hook.send_message(
                **rendered_message(self),
                ledger=TaskStateSendLedger(store) if store is not None else None,
                **self.message_params,
            )
        if self.do_xcom_push:
            context["ti"].xcom_push(key="messages", value=sent.messages)
            context["ti"].xcom_push(key="invalid_numbers", value=sent.invalid_numbers)
        return list(sent)
