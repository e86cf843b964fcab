"""Plivo's documented limits, in one place for the client, the validators and the sandbox."""

__all__ = [
    "ACCOUNT_MAX_IN_FLIGHT",
    "ACCOUNT_RATE_LIMIT",
    "ACCOUNT_RATE_LIMIT_PERIOD",
    "DEFAULT_MESSAGE_EXPIRY",
    "MAX_FILES_PER_UPLOAD",
    "MAX_MEDIA_FILE_SIZE",
    "MAX_MEDIA_PER_MESSAGE",
    "MAX_MESSAGE_EXPIRY",
    "MAX_MESSAGE_SIZE",
    "MAX_NUMBERS_PER_MESSAGE",
    "MAX_TEXT_LENGTH",
    "MEDIA_EXPIRY_HOURS",
    "MEDIA_PAGE_SIZE",
    "MESSAGE_LIST_RATE_LIMIT",
    "MESSAGE_LIST_RATE_LIMIT_PERIOD",
    "MESSAGE_PAGE_SIZE",
    "MIN_MESSAGE_EXPIRY",
    "NO_DELIVERY_REPORT_REGIONS",
    "SIGNUP_MPS",
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

MAX_MESSAGE_SIZE = 5_000_000
"""Bytes of text and media in one message, which must stay under it (Plivo error 120 beyond).
Plivo says "5 MB" without saying which megabyte; as with its 2 MB per file, the stricter
5,000,000 is what we hold to."""

SIGNUP_MPS = {"sms": 5.0, "mms": 0.25}
"""The outbound messages per second Plivo gives an account at signup, per message type (raised
on request); Plivo queues what goes beyond them."""

DEFAULT_MESSAGE_EXPIRY = 10_800
"""Seconds a message may wait in Plivo's queue when its send gives no ``message_expiry``; a
message still queued then fails with error 420, not charged."""

MIN_MESSAGE_EXPIRY = 5
MAX_MESSAGE_EXPIRY = 10_800
"""The ``message_expiry`` a send may give. Plivo's support page says "5 to 10,799 seconds" and
names 10,800 as the default; we accept the default too, as sending it changes nothing."""
