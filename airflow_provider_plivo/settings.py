"""What a hook can be told (retries, ceilings, chunking), checked once for every class that
takes ``hook_params``: a bad value fails when the DAG is parsed, naming the argument."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from airflow_provider_plivo.limits import (
    ACCOUNT_MAX_IN_FLIGHT,
    ACCOUNT_RATE_LIMIT,
    ACCOUNT_RATE_LIMIT_PERIOD,
    MAX_FILES_PER_UPLOAD,
    MAX_MEDIA_FILE_SIZE,
    MESSAGE_LIST_RATE_LIMIT,
    MESSAGE_LIST_RATE_LIMIT_PERIOD,
)

__all__ = ["DEFAULT_MAX_CONCURRENCY", "HookSettings"]

DEFAULT_MAX_CONCURRENCY = ACCOUNT_MAX_IN_FLIGHT
"""The most requests one hook keeps in flight: Plivo's limit per account (it starts at 20)."""


@dataclass(frozen=True)
class HookSettings:
    """The settings of one :class:`~airflow_provider_plivo.hooks.plivo.PlivoHook` (its keyword
    arguments, and the keys of ``hook_params``), each checked on creation."""

    chunk_size: int = MAX_FILES_PER_UPLOAD
    max_file_size: int = MAX_MEDIA_FILE_SIZE
    retry_attempts: int = 5
    retry_wait_initial: float = 1.0
    retry_wait_max: float = 30.0
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    rate_limit: int | None = ACCOUNT_RATE_LIMIT
    rate_limit_period: float = ACCOUNT_RATE_LIMIT_PERIOD
    adaptive: bool = True
    message_list_rate_limit: int | None = MESSAGE_LIST_RATE_LIMIT
    message_list_rate_limit_period: float = MESSAGE_LIST_RATE_LIMIT_PERIOD

    def __post_init__(self) -> None:
        _whole_number("chunk_size", self.chunk_size, 1, MAX_FILES_PER_UPLOAD)
        _whole_number("max_file_size", self.max_file_size, 1)
        _whole_number("retry_attempts", self.retry_attempts, 1)
        _seconds("retry_wait_initial", self.retry_wait_initial)
        _seconds("retry_wait_max", self.retry_wait_max)
        _whole_number("max_concurrency", self.max_concurrency, 1)
        if self.rate_limit is not None:
            _whole_number("rate_limit", self.rate_limit, 1)
        _period("rate_limit_period", self.rate_limit_period)
        if self.message_list_rate_limit is not None:
            _whole_number("message_list_rate_limit", self.message_list_rate_limit, 1)
        _period("message_list_rate_limit_period", self.message_list_rate_limit_period)
        if not isinstance(self.adaptive, bool):
            raise ValueError(f"adaptive must be True or False, got {self.adaptive!r}")

    @classmethod
    def from_params(cls, params: dict[str, Any] | None, *, argument: str = "hook_params") -> HookSettings:
        """Settings from a ``hook_params`` dict; an unknown key is named with the known ones."""
        params = dict(params or {})
        known = {f.name for f in fields(cls)}
        if unknown := sorted(set(params) - known):
            raise ValueError(
                f"{argument} has unknown keys {unknown}; PlivoHook takes {', '.join(sorted(known))}"
            )
        return cls(**params)


def _whole_number(name: str, value: object, low: int, high: int | None = None) -> None:
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or value < low
        or (high is not None and value > high)
    ):
        bounds = f"{low} to {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{name} must be {bounds} (a whole number), got {value!r}")


def _seconds(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
        raise ValueError(f"{name} must be a finite number of seconds, 0 or more, got {value!r}")


def _period(name: str, value: object) -> None:
    _seconds(name, value)
    if value == 0:
        raise ValueError(f"{name} must be more than 0 seconds, got {value!r}")
