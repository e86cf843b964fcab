"""What every task-facing class has: a ``plivo`` connection, ``hook_params``, and the hook."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_plivo.settings import HookSettings

if TYPE_CHECKING:
    from airflow_provider_plivo.hooks.plivo import PlivoHook

__all__ = ["PlivoHookUser", "PlivoTask"]


class PlivoHookUser:
    """A mixin for the operators, the sensor, the trigger and the notifier.

    ``hook_params`` are further :class:`~airflow_provider_plivo.hooks.plivo.PlivoHook` arguments
    (retries, ceilings, ``adaptive``), checked when the task is defined, so that a wrong key or
    value fails the DAG's parse naming it instead of the run.
    """

    plivo_conn_id: str
    hook_params: dict[str, Any]

    def _use_plivo(self, plivo_conn_id: str, hook_params: dict[str, Any] | None) -> None:
        HookSettings.from_params(hook_params)
        self.plivo_conn_id = plivo_conn_id
        self.hook_params = dict(hook_params or {})

    def _hook_arguments(self) -> dict[str, Any]:
        """The hook's keyword arguments; a subclass may add its own settings under ``hook_params``."""
        return self.hook_params

    @cached_property
    def hook(self) -> PlivoHook:
        from airflow_provider_plivo.hooks.plivo import PlivoHook

        return PlivoHook(self.plivo_conn_id, **self._hook_arguments())


class PlivoTask(PlivoHookUser):
    """The mixin for the operators and the sensor: a hook user that Airflow can kill."""

    def on_kill(self) -> None:
        """Airflow's SIGTERM handling: stop the hook's requests (none starts any more; what is
        in flight finishes and is recorded by the main thread as it unwinds)."""
        if "hook" in self.__dict__:
            self.hook.stop()
