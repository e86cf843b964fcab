"""PlivoNotifier: text someone when a task or DAG run fails, succeeds, retries or misses a deadline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk.bases.notifier import BaseNotifier

from airflow_provider_plivo._airflow.base import PlivoHookUser
from airflow_provider_plivo._airflow.templating import rendered_message
from airflow_provider_plivo.hooks.plivo import PlivoHook

if TYPE_CHECKING:
    from collections.abc import Sequence

    import jinja2
    from airflow.sdk import Context

__all__ = ["PlivoNotifier", "send_plivo_notification"]


class PlivoNotifier(PlivoHookUser, BaseNotifier):
    """
    Send an SMS (or an MMS, with media) through Plivo from an Airflow callback::

        PlivoTask(..., on_failure_callback=PlivoNotifier(
            src="+14155550100", dst=["+14155550101"], text="{{ ti.task_id }} failed in {{ dag.dag_id }}"
        ))

    Works as ``on_failure_callback``, ``on_success_callback``, ``on_retry_callback``, a DAG's
    callbacks and a deadline alert (which awaits it in the triggerer). ``text`` and ``dst`` (and
    the media) are templates rendered with the callback's context.

    As Airflow's notifiers do, a failure to notify is raised to Airflow (which logs it and
    records the callback as failed) and never changes the outcome it reports: the task's or the
    run's own state stands. In a deadline alert the context holds the DAG run and the deadline;
    ``{{ dag.dag_id }}`` renders there too.

    :param src: (templated) the sending number, E.164; or give ``powerpack_uuid``.
    :param dst: (templated) a number, a list of numbers, or numbers joined with ``<``.
    :param text: (templated) up to 1,600 characters.
    :param media_ids: (templated) uploaded media to attach (makes it an MMS).
    :param media_urls: (templated) public URLs of media to attach.
    :param powerpack_uuid: send from a Powerpack instead of ``src``.
    :param plivo_conn_id: (templated) the ``plivo`` connection.
    :param hook_params: further :class:`~airflow_provider_plivo.hooks.plivo.PlivoHook` arguments,
        e.g. ``{"retry_attempts": 2}`` so that a notification with Plivo down gives up sooner.
    :param kwargs: passed to Airflow's ``BaseNotifier`` (``context``, as a deadline alert gives it).
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
        self._use_plivo(plivo_conn_id, hook_params)

    def _update_context(self, context: Context) -> Context:
        context = super()._update_context(context)
        if (
            "dag" not in context
            and isinstance(dag_run := context.get("dag_run"), dict)
            and "dag_id" in dag_run
        ):
            # A deadline alert's context carries the DAG run as a dict, and no DAG.
            context["dag"] = _DagOfRun(dag_run["dag_id"])
        return context

    def notify(self, context: Context) -> None:
        """Send the rendered message; an error is Airflow's to record (see the class)."""
        sent = self.hook.send_message(**rendered_message(self))
        self.log.info("Plivo notification sent to %d numbers: %s", len(sent), ", ".join(sent))

    async def async_notify(self, context: Context) -> None:
        """:meth:`notify` on the triggerer's event loop (deadline alerts), without blocking it."""
        async with await self.hook.aget_client() as client:
            sent = await self.hook.asend_message(client, **rendered_message(self))
        self.log.info("Plivo notification sent to %d numbers: %s", len(sent), ", ".join(sent))


class _DagOfRun:
    """What templates may ask of the DAG where only its run is known (a deadline alert)."""

    render_template_as_native_obj = False

    def __init__(self, dag_id: str) -> None:
        self.dag_id = dag_id

    def get_template_env(self, *, force_sandboxed: bool = False) -> jinja2.Environment:
        from airflow.sdk.definitions._internal.templater import SandboxedEnvironment

        return SandboxedEnvironment(cache_size=0)  # type: ignore[no-untyped-call]


send_plivo_notification = PlivoNotifier
"""The notifier under the name Airflow's other providers use (``send_slack_notification``...)."""
