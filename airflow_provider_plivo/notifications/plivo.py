"""PlivoNotifier: text someone when a task or DAG run fails, succeeds, retries or misses a deadline."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from airflow.sdk.bases.notifier import BaseNotifier

from airflow_provider_plivo.hooks.plivo import PlivoHook
from airflow_provider_plivo.utils.templating import rendered_message

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context

__all__ = ["PlivoNotifier", "send_plivo_notification"]


class PlivoNotifier(BaseNotifier):
    """
    Send an SMS (or an MMS, with media) through Plivo from an Airflow callback::

        PlivoTask(..., on_failure_callback=PlivoNotifier(
            src="+14155550100", dst=["+14155550101"], text="{{ ti.task_id }} failed in {{ dag.dag_id }}"
        ))

    Works as ``on_failure_callback``, ``on_success_callback``, ``on_retry_callback``, a DAG's
    callbacks and a deadline alert (which awaits it in the triggerer). ``text`` and ``dst`` (and
    the media) are templates rendered with the callback's context.

    A notifier never hides what it reports: if Plivo cannot be reached or refuses the message,
    the error is logged and the task's (or run's) own outcome stands.

    :param src: (templated) the sending number, E.164; or give ``powerpack_uuid``.
    :param dst: (templated) a number, a list of numbers, or numbers joined with ``<``.
    :param text: (templated) up to 1,600 characters.
    :param media_ids: (templated) uploaded media to attach (makes it an MMS).
    :param media_urls: (templated) public URLs of media to attach.
    :param powerpack_uuid: send from a Powerpack instead of ``src``.
    :param plivo_conn_id: (templated) the ``plivo`` connection.
    """

    template_fields: Sequence[str] = ("src", "dst", "text", "media_ids", "media_urls", "plivo_conn_id")

    def __init__(
        self,
        *,
        src: str | None = None,
        dst: str | Sequence[str],
        text: str,
        media_ids: str | Sequence[str] | None = None,
        media_urls: str | Sequence[str] | None = None,
        powerpack_uuid: str | None = None,
        plivo_conn_id: str = PlivoHook.default_conn_name,
    ) -> None:
        super().__init__()
        self.src = src
        self.dst = dst
        self.text = text
        self.media_ids = media_ids
        self.media_urls = media_urls
        self.powerpack_uuid = powerpack_uuid
        self.plivo_conn_id = plivo_conn_id

    @cached_property
    def hook(self) -> PlivoHook:
        return PlivoHook(self.plivo_conn_id)

    def notify(self, context: Context) -> None:
        """Send the rendered message; log, never raise, when that fails."""
        try:
            sent = self.hook.send_message(**rendered_message(self))
        except Exception as err:
            self.log.error("Plivo notification not sent (the outcome it reports stands): %s", err)
            return
        self.log.info("Plivo notification sent to %d numbers: %s", len(sent), ", ".join(sent))

    async def async_notify(self, context: Context) -> None:
        """:meth:`notify` on the triggerer's event loop (deadline alerts), without blocking it."""
        try:
            async with await self.hook.aget_client() as client:
                sent = await self.hook.asend_message(client, **rendered_message(self))
        except Exception as err:
            self.log.error("Plivo notification not sent (the outcome it reports stands): %s", err)
            return
        self.log.info("Plivo notification sent to %d numbers: %s", len(sent), ", ".join(sent))


send_plivo_notification = PlivoNotifier
"""The notifier under the name Airflow's other providers use (``send_slack_notification``...)."""
