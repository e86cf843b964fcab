"""Plivo's documented limits, in one place for the client, the validators and the sandbox."""

__all__ = [
    "ACCOUNT_MAX_IN_FLIGHT",
    "ACCOUNT_RATE_LIMIT",
    "ACCOUNT_RATE_LIMIT_PERIOD",
    "MAX_FILES_PER_UPLOAD",
    "MAX_MEDIA_FILE_SIZE",
    "MAX_MEDIA_PER_MESSAGE",
    "MAX_NUMBERS_PER_MESSAGE",
    "MAX_TEXT_LENGTH",
    "MEDIA_EXPIRY_HOURS",
    "MEDIA_PAGE_SIZE",
    "MESSAGE_LIST_RATE_LIMIT",
    "MESSAGE_LIST_RATE_LIMIT_PERIOD",
    "MESSAGE_PAGE_SIZE",
    "NO_DELIVERY_REPORT_REGIONS",
]

MAX_FILES_PER_UPLOAD = 10
"""Files in one ``POST Media/`` request."""

MAX_MEDIA_FILE_SIZE = 2_000_000
"""Bytes per media file. Plivo says "2 MB" without saying which megabyte; we read it as the
stricter 2,000,000 bytes so a file we accept is accepted under either reading."""

MEDIA_EXPIRY_HOURS = 6
"""Plivo deletes uploaded media that no message used after this many hours."""

MAX_MEDIA_PER_MESSAGE = 10
"""``media_ids`` and ``media_urls`` together in one message."""

MAX_NUMBERS_PER_MESSAGE = 1000
"""Unique destination numbers in one ``POST Message/`` (a bulk send joins them with ``<``)."""

MAX_TEXT_LENGTH = 1600
"""Characters of text in one message."""

MEDIA_PAGE_SIZE = 20
"""The most media ``GET Media/`` lists per page."""

MESSAGE_PAGE_SIZE = 20
"""The most messages ``GET Message/`` lists per page."""

NO_DELIVERY_REPORT_REGIONS = ("US", "CA")
"""Where carriers send Plivo no delivery reports "due to federal regulations": messages to these
countries end at ``sent``, which Plivo advises to count as delivered."""

ACCOUNT_RATE_LIMIT = 300
ACCOUNT_RATE_LIMIT_PERIOD = 5.0
"""Plivo answers 429 beyond 300 API requests per 5 seconds per account or subaccount."""

ACCOUNT_MAX_IN_FLIGHT = 100
"""Plivo answers 429 beyond 100 simultaneous API requests per account or subaccount."""

MESSAGE_LIST_RATE_LIMIT = 20
MESSAGE_LIST_RATE_LIMIT_PERIOD = 60.0
"""Plivo's message list (``GET Message/``) has a limit of its own, within the account's: "The
default rate limit for this API is 20 requests per minute" (Plivo's "List all messages" page;
raised on request, hence a hook setting)."""
