"""How a task ends on an error: at once where no retry can help, through Airflow's retries where
one may."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

from airflow_provider_plivo.exceptions import PlivoError
from airflow_provider_plivo.transport.core import is_transient
from airflow_provider_plivo.version_compat import AirflowFailException

if TYPE_CHECKING:
    from collections.abc import Iterator


__all__ = ["fail_fast", "is_permanent"]


def is_permanent(err: BaseException) -> bool:
    """No retry can fix it: bad input or settings, refused credentials, unknown media, a request
    Plivo refuses (4xx other than 429)."""
    if isinstance(err, PlivoError):
        return not is_transient(err) and not getattr(err, "retryable", False)
    return isinstance(err, (ValueError, TypeError))


@contextmanager
def fail_fast() -> Iterator[None]:
    """Re-raise permanent errors as :class:`AirflowFailException`, so that Airflow fails the task
    without spending its retries; the original error stays chained, with its type and attributes."""
    try:
        yield
    except Exception as err:
        if is_permanent(err):
            raise AirflowFailException(f"{type(err).__name__}: {err}") from err
        raise
