"""pytest fixtures for DAG tests: sandboxes behind Airflow connections, stopped after each test.

Opt-in (with the ``sandbox`` extra installed): name it in your ``conftest.py``::

    pytest_plugins = ["airflow_provider_plivo.sandbox.pytest_plugin"]

and any test can write::

    def test_my_dag(plivo_sandbox):
        ...  # PlivoHook() / the operators now talk to plivo_sandbox
        assert len(plivo_sandbox.media) == 3


    def test_slow_plivo(plivo_sandbox_factory):
        sandbox = plivo_sandbox_factory(latency_ms=500, timeout=2)  # sandbox option, connection extra
        wrong = plivo_sandbox_factory(conn_id="plivo_wrong", password="not-the-token")

The sandboxes are as unkind as production Plivo (0.25 MMS a second, 20 message lists a minute...).
To change that for every sandbox of a suite (or of one module), override ``plivo_sandbox_options``::

    @pytest.fixture
    def plivo_sandbox_options():
        return {"time_scale": 1000}  # or {"kinder": True}: the sandbox without Plivo's habits

Options a test passes to the factory win over these.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_plivo.sandbox.server import PlivoSandbox

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

__all__ = ["SandboxFactory", "plivo_sandbox", "plivo_sandbox_factory", "plivo_sandbox_options"]

_SANDBOX_OPTIONS = frozenset(inspect.signature(PlivoSandbox).parameters)


class SandboxFactory:
    """Starts sandboxes and points connections at them through the environment; :meth:`close` stops them.

    :param monkeypatch: sets each ``AIRFLOW_CONN_<ID>`` and undoes it after the test.
    :param defaults: options for every sandbox (and connection extras), under the ones a call gives.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch, defaults: Mapping[str, Any] | None = None) -> None:
        self._monkeypatch = monkeypatch
        self._defaults = dict(defaults or {})
        self.started: list[PlivoSandbox] = []
        """Every sandbox started so far, in order."""

    def __call__(
        self, *, conn_id: str = "plivo_default", password: str | None = None, **options: Any
    ) -> PlivoSandbox:
        """Start a sandbox and set connection ``conn_id`` to it; return the sandbox.

        Keyword arguments that :class:`PlivoSandbox` takes configure the sandbox; any others
        become the connection's extras (e.g. ``timeout=2``). ``password`` sets a token other than
        the sandbox's, to see a wrong one refused.
        """
        options = {**self._defaults, **options}
        sandbox_options = {key: value for key, value in options.items() if key in _SANDBOX_OPTIONS}
        extra = {key: value for key, value in options.items() if key not in _SANDBOX_OPTIONS}
        sandbox = PlivoSandbox(**sandbox_options).start()
        self.started.append(sandbox)
        self._monkeypatch.setenv(
            f"AIRFLOW_CONN_{conn_id.upper()}", sandbox.connection_json(password=password, **extra)
        )
        return sandbox

    def close(self) -> None:
        """Stop every sandbox this factory started."""
        while self.started:
            self.started.pop().stop()


@pytest.fixture
def plivo_sandbox_options() -> dict[str, Any]:
    """Options every sandbox of the factory starts with: none, so Plivo's habits. Override it in a
    ``conftest.py`` or a test module to change them for many tests in one place."""
    return {}


@pytest.fixture
def plivo_sandbox_factory(
    monkeypatch: pytest.MonkeyPatch, plivo_sandbox_options: Mapping[str, Any]
) -> Iterator[SandboxFactory]:
    """Start sandboxes behind connections (see :class:`SandboxFactory`); all stop after the test."""
    factory = SandboxFactory(monkeypatch, plivo_sandbox_options)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def plivo_sandbox(plivo_sandbox_factory: SandboxFactory) -> PlivoSandbox:
    """A fresh sandbox for one test, set as the ``plivo_default`` connection through the environment."""
    return plivo_sandbox_factory()
