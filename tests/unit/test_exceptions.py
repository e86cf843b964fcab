"""Every error survives pickling (process pools, multiprocessing, result backends) intact."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from airflow_provider_plivo import exceptions as errors

API: dict[str, Any] = {
    "status_code": 400,
    "message": "invalid media",
    "endpoint": "POST Message/",
    "api_id": "a-1",
}

EXAMPLES = [
    errors.PlivoError("plain"),
    errors.PlivoTransientError("busy"),
    errors.PlivoConnectionError("POST Media/: reset", request_sent=True),
    errors.PlivoResponseError("cut JSON"),
    errors.PlivoInterruptedError("POST Message/: not sent, the task is stopping"),
    errors.PlivoTLSError("GET Media/: the TLS certificate of https://x could not be verified"),
    errors.PlivoAPIError(**API),
    errors.PlivoRetryableAPIError(**{**API, "status_code": 429}, retry_after=2.0),
    errors.PlivoAuthenticationError(**{**API, "status_code": 401}),
    errors.PlivoUnknownMediaError(**API),
    errors.PlivoMediaObjectError({"a.jpg": "failed"}),
    errors.PlivoValidationError(["one", "two"]),
    errors.PlivoMediaValidationError(["a.jpg: no such file"]),
    errors.PlivoMessageValidationError(["text is too long"]),
    errors.PlivoMediaUploadError({"b.png": "HTTP 400"}, uploaded=[{"file": "a.jpg"}], retryable=False),
    errors.PlivoMediaFileError("a.jpg", "no such file"),
    errors.PlivoMediaSourceError("s3://bucket/a.jpg", "access denied (Forbidden)", conn_id="aws_media"),
    errors.PlivoMediaFileChangedError("a.jpg", "deleted after validation"),
    errors.PlivoMediaFileBusyError("a.jpg", "could not be opened for now (Too many open files)"),
    errors.PlivoReconciliationError(
        "cannot tell whether 1 number got it", numbers={"+14155550101": "2 messages could be ours"}
    ),
]


def test_every_error_class_has_an_example():
    classes = {getattr(errors, name) for name in errors.__all__ if isinstance(getattr(errors, name), type)}
    assert classes == {type(err) for err in EXAMPLES}


@pytest.mark.parametrize("err", EXAMPLES, ids=lambda err: type(err).__name__)
def test_pickle_round_trip_keeps_type_message_and_attributes(err):
    copy = pickle.loads(pickle.dumps(err))

    assert type(copy) is type(err)
    assert str(copy) == str(err)
    assert vars(copy) == vars(err)


@pytest.mark.parametrize("err", EXAMPLES, ids=lambda err: type(err).__name__)
def test_a_trigger_event_carries_the_error_as_json_and_rebuilds_the_same_error(err):
    import json

    copy = errors.error_from_event(json.loads(json.dumps(errors.error_to_event(err))))

    assert type(copy) is type(err)
    assert str(copy) == str(err)
    assert vars(copy) == vars(err)


def test_an_event_rebuilds_only_this_providers_errors():
    assert type(errors.error_from_event({"class": "SystemExit", "args": ["x"]})) is errors.PlivoError
    foreign = errors.error_from_event(errors.error_to_event(KeyError("boom")))
    assert type(foreign) is errors.PlivoError
    assert str(foreign) == "KeyError: 'boom'"
