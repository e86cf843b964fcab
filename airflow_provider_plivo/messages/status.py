"""Reading the state of many sent messages as cheaply as Plivo allows: a plan of the core, the
same for a poking sensor (blocking driver) and a deferred one (the trigger's async driver).

Many messages are read from Plivo's message list, 20 to a request, newest first, stopping once
all are found (2,500 messages: about 125 requests instead of 2,500); the few it does not reach,
and small sets, are fetched one by one, together, as many at a time as the limiter allows.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_plivo.exceptions import PlivoError
from airflow_provider_plivo.limits import MESSAGE_PAGE_SIZE
from airflow_provider_plivo.messages.rules import message_time, sent_since_filter
from airflow_provider_plivo.transport.core import Concurrent, Pages, Request, path_id

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow_provider_plivo.transport.core import Plan

__all__ = ["MessageListSearch", "message_request", "message_states_plan"]


def message_request(message_uuid: str) -> Request:
    return Request("GET", f"Message/{path_id(message_uuid, 'message UUID')}/")


class MessageListSearch:
    """Finding known messages in Plivo's message list: outbound, sent since the first of them,
    newest first. Gives up once it read as many pages as single fetches would cost."""

    def __init__(self, message_uuids: Sequence[str], first: Mapping[str, Any]) -> None:
        self._wanted = set(message_uuids)
        sent_at = message_time(first.get("message_time")) or datetime.now(timezone.utc)
        self.pages = Pages(
            "Message/",
            {"message_direction": "outbound", "message_time__gte": sent_since_filter(sent_at)},
            page_size=MESSAGE_PAGE_SIZE,
        )
        self._budget = len(message_uuids) * MESSAGE_PAGE_SIZE // 2
        self._missing = len(self._wanted) - 1  # the first message is already found

    @property
    def finished(self) -> bool:
        return self.pages.finished or self._enough

    @property
    def _enough(self) -> bool:
        """Every message is found, or single fetches of the rest would now cost less."""
        return self._missing <= 0 or self._budget <= 0

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


def message_states_plan(message_uuids: Sequence[str]) -> Plan[dict[str, dict[str, Any]]]:
    """Plivo's record of each message (UUID -> message object), in the order given."""
    requests = {uuid: message_request(uuid) for uuid in message_uuids}  # every ID checked first
    found: dict[str, dict[str, Any]] = {}
    if len(message_uuids) > MESSAGE_PAGE_SIZE:
        first = message_uuids[0]
        found[first] = yield requests[first]
        search = MessageListSearch(message_uuids, found[first])
        while not search.finished:
            search.take((yield search.pages.request()), found)
    missing = [uuid for uuid in message_uuids if uuid not in found]
    outcomes = yield Concurrent([requests[uuid] for uuid in missing])
    if failed := next((o for o in outcomes if isinstance(o, PlivoError)), None):
        raise failed
    found.update(zip(missing, outcomes, strict=True))
    return {uuid: found[uuid] for uuid in message_uuids}
