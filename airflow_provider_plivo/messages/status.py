"""Reading the state of many sent messages as cheaply as Plivo allows: a plan of the core, the
same for a poking sensor (blocking driver) and a deferred one (the trigger's async driver).

Two ways, under two budgets. ``GET Message/{uuid}/`` reads one message at the account's rate
(300 per 5 s). Plivo's message list reads 20 messages a request, newest first, but at a rate of
its own: 20 requests per minute. So the list is read only as far as its budget has room now (the
caller says how many pages: a plan cannot see the limiter; a page that finds the budget spent by
another poll meanwhile is not sent) and while it finds our messages; a throttled list (429) is
not retried but left for single reads; every message the list did not
bring is read singly, together, as many at a time as the limiter allows. A poll of 2,500 messages
with the list's whole minute free: 1 + 20 list pages (up to 400 messages) + the rest singly.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_plivo.exceptions import PlivoAPIError, PlivoError
from airflow_provider_plivo.limits import MESSAGE_PAGE_SIZE
from airflow_provider_plivo.messages.rules import message_time, sent_since_filter
from airflow_provider_plivo.progress import counted
from airflow_provider_plivo.transport.core import Concurrent, Pages, Request, is_transient, path_id
from airflow_provider_plivo.transport.limiter import BudgetSpent

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow_provider_plivo.progress import Log
    from airflow_provider_plivo.transport.core import Plan

__all__ = ["MessageListSearch", "message_request", "message_states_plan"]


def message_request(message_uuid: str) -> Request:
    return Request("GET", f"Message/{path_id(message_uuid, 'message UUID')}/")


def _throttled(err: BaseException) -> bool:
    return isinstance(err, PlivoAPIError) and err.status_code == 429


def _unknown(outcome: object) -> bool:
    """Plivo does not know the message (404): it is left out, not a failure of the others."""
    return isinstance(outcome, PlivoAPIError) and outcome.status_code == 404


class MessageListSearch:
    """Finding known messages in Plivo's message list: outbound, sent since the first of them,
    newest first. Reads at most ``pages`` pages (the list's budget now; None for no limit of its
    own), and gives up once it read as many messages as single fetches would cost."""

    def __init__(self, message_uuids: Sequence[str], first: Mapping[str, Any], *, pages: int | None) -> None:
        self._wanted = set(message_uuids)
        sent_at = message_time(first.get("message_time")) or datetime.now(timezone.utc)
        self.pages = Pages(
            "Message/",
            {"message_direction": "outbound", "message_time__gte": sent_since_filter(sent_at)},
            page_size=MESSAGE_PAGE_SIZE,
        )
        self._pages_left = math.inf if pages is None else pages
        self._budget = len(message_uuids) * MESSAGE_PAGE_SIZE // 2
        self._missing = len(self._wanted) - 1  # the first message is already found

    @property
    def finished(self) -> bool:
        return self.pages.finished or self._enough or self._pages_left <= 0

    @property
    def _enough(self) -> bool:
        """Every message is found, or single fetches of the rest would now cost less."""
        return self._missing <= 0 or self._budget <= 0

    def request(self) -> Request:
        """The next page; sent only if the list's budget has room now, and a 429 is not retried
        (the list's budget is a minute long, and single reads answer at once)."""
        self._pages_left -= 1
        return dataclasses.replace(
            self.pages.request(),
            should_retry=lambda err: is_transient(err) and not _throttled(err),
            waits_for_room=False,
        )

    def take(self, page: Mapping[str, Any], found: dict[str, dict[str, Any]]) -> None:
        """Keep the page's messages that are ours."""
        for message in self.pages.take(page):
            uuid = message.get("message_uuid")
            if uuid in self._wanted and uuid not in found:
                found[uuid] = dict(message)
                self._missing -= 1
            self._budget -= 1
            if self._enough:
                return


def message_states_plan(
    message_uuids: Sequence[str], *, list_pages: int | None = None, log: Log | None = None
) -> Plan[dict[str, dict[str, Any]]]:
    """Plivo's record of each message it knows (UUID -> message object), in the order given.

    :param list_pages: message list pages that may be read now (the list's own budget, e.g.
        :meth:`~airflow_provider_plivo.transport.limiter.HookLimiter.message_list_room`); None
        for no limit of the list's own, 0 to read every message singly.
    :param log: where unknown messages and a throttled list are reported.

    A message Plivo answers 404 for is left out of the result (and logged); any other error
    raises, once every read is done.
    """
    requests = {uuid: message_request(uuid) for uuid in message_uuids}  # every ID checked first
    found: dict[str, dict[str, Any]] = {}
    unknown: list[str] = []
    if len(message_uuids) > MESSAGE_PAGE_SIZE and list_pages != 0:
        yield from _from_the_list(message_uuids, requests, found, unknown, list_pages=list_pages, log=log)
    missing = [uuid for uuid in message_uuids if uuid not in found and uuid not in unknown]
    outcomes = yield Concurrent([requests[uuid] for uuid in missing])
    for uuid, outcome in zip(missing, outcomes, strict=True):
        if _unknown(outcome):
            unknown.append(uuid)
        elif not isinstance(outcome, PlivoError):
            found[uuid] = outcome
    if failed := next((o for o in outcomes if isinstance(o, PlivoError) and not _unknown(o)), None):
        raise failed
    if unknown and log is not None:
        shown = ", ".join(unknown[:10]) + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
        log.warning("Plivo knows no message %s (HTTP 404): left out of the states", shown)
    return {uuid: found[uuid] for uuid in message_uuids if uuid in found}


def _from_the_list(
    message_uuids: Sequence[str],
    requests: Mapping[str, Request],
    found: dict[str, dict[str, Any]],
    unknown: list[str],
    *,
    list_pages: int | None,
    log: Log | None,
) -> Plan[None]:
    """Add to ``found`` what the message list brings (within ``list_pages``), searched from the
    time of the first message Plivo knows (those it does not go to ``unknown``)."""
    first = None
    for uuid in message_uuids:
        try:
            found[uuid] = first = yield requests[uuid]
            break
        except PlivoAPIError as err:
            if not _unknown(err):
                raise
            unknown.append(uuid)
    if first is None:
        return
    search = MessageListSearch(message_uuids, first, pages=list_pages)
    while not search.finished:
        try:
            page = yield search.request()
        except (PlivoAPIError, BudgetSpent) as err:
            if isinstance(err, PlivoAPIError) and not _throttled(err):
                raise
            if log is not None:
                why = "is throttled (HTTP 429)" if isinstance(err, PlivoAPIError) else "has no room now"
                log.warning(
                    "Plivo's message list %s; reading the other %s one by one",
                    why,
                    counted(len(message_uuids) - len(found) - len(unknown), "message"),
                )
            return
        search.take(page, found)
