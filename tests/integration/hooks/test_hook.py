"""PlivoHook over real HTTP against the sandbox, with faults injected on the wire."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_plivo import __version__
from airflow_provider_plivo.exceptions import (
    PlivoAuthenticationError,
    PlivoError,
    PlivoMediaUploadError,
    PlivoMediaValidationError,
)
from airflow_provider_plivo.hooks.plivo import PlivoHook
from tests.support.canned_plivo import canned_plivo

if TYPE_CHECKING:
    from airflow_provider_plivo.records import MediaRecord
    from airflow_provider_plivo.sandbox import PlivoSandbox

FAST_RETRIES = {"retry_wait_initial": 0.01, "retry_wait_max": 0.05}


def fast_hook(**kwargs: Any) -> PlivoHook:
    return PlivoHook(**{**FAST_RETRIES, **kwargs})


def upload_statuses(sandbox: PlivoSandbox) -> list[int]:
    return [r.status for r in sandbox.requests if r.method == "POST"]


def assert_stored_as(sandbox: PlivoSandbox, records: list[MediaRecord], files: list[str]) -> None:
    assert [r["file"] for r in records] == files
    for record, path in zip(records, files, strict=True):
        assert sandbox.media[record["media_id"]].data == Path(path).read_bytes(), path


def test_chunks_follow_chunk_size_and_results_keep_input_order(plivo_sandbox, make_media):
    files = make_media(7, ("png", "jpg"))

    records = fast_hook(chunk_size=3).upload_media(files)

    assert sorted(r.file_names for r in plivo_sandbox.requests) == [
        ("m00.png", "m01.jpg", "m02.png"),
        ("m03.jpg", "m04.png", "m05.jpg"),
        ("m06.png",),
    ]
    assert_stored_as(plivo_sandbox, records, files)
    assert records[0]["content_type"] == "image/png"
    assert records[1]["content_type"] == "image/jpeg"


def test_same_path_twice_is_uploaded_once_and_both_positions_get_its_id(plivo_sandbox, make_media):
    a, b = make_media(2)

    records = fast_hook().upload_media([a, b, a])

    assert len(plivo_sandbox.media) == 2
    assert records[0]["media_id"] == records[2]["media_id"] != records[1]["media_id"]
    assert [r["file"] for r in records] == [a, b, a]


def test_requests_identify_the_provider(plivo_sandbox, make_media):
    hook = fast_hook()
    hook.upload_media(make_media(1))

    assert hook.client.session.headers["User-Agent"] == f"airflow-provider-plivo/{__version__}"
    assert plivo_sandbox.requests[0].user_agent == f"airflow-provider-plivo/{__version__}"


@pytest.mark.parametrize("fault", ["500", "503", "429", "429-retry", "html-502", "truncated", "reset"])
def test_transient_fault_is_retried_and_stores_each_file_once(plivo_sandbox, make_media, fault):
    files = make_media(3)
    plivo_sandbox.script_faults({1: fault})

    records = fast_hook().upload_media(files)

    assert upload_statuses(plivo_sandbox)[-1] == 200
    assert plivo_sandbox.count_requests("POST", "/Media/") == 2
    assert len(plivo_sandbox.media) == 3
    assert_stored_as(plivo_sandbox, records, files)


def test_lost_response_is_retried_and_only_then_leaves_a_spare_copy(plivo_sandbox, make_media):
    files = make_media(2)
    plivo_sandbox.script_faults({1: "lost"})

    records = fast_hook().upload_media(files)

    assert_stored_as(plivo_sandbox, records, files)
    assert len(plivo_sandbox.media) == 4


def test_retry_after_is_honoured(plivo_sandbox, make_media, capfd):
    plivo_sandbox.script_faults({1: "429-retry"})

    fast_hook().upload_media(make_media(1))

    assert "retrying in 1.0 s" in capfd.readouterr().out


def test_failed_object_is_retried_alone(plivo_sandbox, make_media):
    files = make_media(4)
    plivo_sandbox.script_faults({1: "failed-object"})

    records = fast_hook().upload_media(files)

    assert [r.file_names for r in plivo_sandbox.requests] == [
        ("m00.jpg", "m01.jpg", "m02.jpg", "m03.jpg"),
        ("m00.jpg",),
    ]
    assert len(plivo_sandbox.media) == 4
    assert_stored_as(plivo_sandbox, records, files)


def test_retries_stop_after_retry_attempts_and_name_every_missing_file(plivo_sandbox, make_media, capfd):
    files = make_media(5)
    plivo_sandbox.script_faults(dict.fromkeys(range(2, 5), "503"))

    with pytest.raises(PlivoMediaUploadError) as raised:
        fast_hook(chunk_size=2, retry_attempts=3, max_concurrency=1).upload_media(files)

    assert upload_statuses(plivo_sandbox) == [200, 503, 503, 503, 200]
    assert set(raised.value.failures) == set(files[2:4])
    assert "HTTP 503" in raised.value.failures[files[2]]
    assert [r["file"] for r in raised.value.uploaded] == [files[0], files[1], files[4]]
    assert files[2] in str(raised.value)
    assert files[3] in str(raised.value)
    assert "attempt 2 of 3 failed" in capfd.readouterr().out


def test_client_error_is_not_retried_and_other_chunks_still_upload(plivo_sandbox, make_media):
    files = make_media(4)
    plivo_sandbox.script_faults({1: "400"})

    with pytest.raises(PlivoMediaUploadError) as raised:
        fast_hook(chunk_size=2, max_concurrency=1).upload_media(files)

    assert upload_statuses(plivo_sandbox) == [400, 200]
    assert set(raised.value.failures) == set(files[:2])
    assert "HTTP 400" in raised.value.failures[files[0]]
    assert [r["file"] for r in raised.value.uploaded] == files[2:]


def test_wrong_token_fails_at_once_with_plivos_message(plivo_sandbox_factory, make_media):
    sandbox = plivo_sandbox_factory(password="not-the-token")

    with pytest.raises(PlivoAuthenticationError) as raised:
        fast_hook(chunk_size=1, max_concurrency=1).upload_media(make_media(3))

    assert upload_statuses(sandbox) == [401]
    message = str(raised.value)
    assert "authentication failed" in message
    assert "Authentication credentials invalid" in message
    assert "not-the-token" not in message + repr(raised.value)


def test_hung_request_times_out_and_is_retried(plivo_sandbox_factory, make_media):
    sandbox = plivo_sandbox_factory(faults={1: "hang"}, hang_seconds=30, timeout=0.5)

    records = fast_hook().upload_media(make_media(2))

    assert len(records) == 2
    assert upload_statuses(sandbox) == [0, 200]


def test_unreachable_server_is_retried_then_reported(plivo_down, make_media):
    with pytest.raises(PlivoMediaUploadError, match=rf"connection to {re.escape(plivo_down)}"):
        fast_hook(retry_attempts=2).upload_media(make_media(1))


def test_invalid_files_raise_before_any_request(plivo_sandbox, make_media, tmp_path):
    (tmp_path / "folder.png").mkdir()
    empty = tmp_path / "empty.gif"
    empty.touch()
    files = [*make_media(2), str(tmp_path / "folder.png"), str(empty)]

    with pytest.raises(PlivoMediaValidationError) as raised:
        fast_hook().upload_media(files)

    assert plivo_sandbox.requests == []
    assert raised.value.problems == [
        f"{tmp_path / 'folder.png'}: not a regular file",
        f"{empty}: file is empty",
    ]


def test_get_media_and_list_media_walk_every_page(plivo_sandbox, make_media):
    hook = fast_hook()
    records = hook.upload_media(make_media(45))

    listed = hook.list_media()

    assert sorted(m["media_id"] for m in listed) == sorted(r["media_id"] for r in records)
    assert plivo_sandbox.count_requests("GET", "/Media/") == 3
    one = hook.get_media(records[7]["media_id"])
    assert one["file_name"] == "m07.jpg"
    assert one["size"] == 256


def test_test_connection_reports_success_and_failure(plivo_sandbox, plivo_sandbox_factory):
    assert PlivoHook().test_connection() == (
        True,
        f"Connected to Plivo as {plivo_sandbox.auth_id} (0 media stored)",
    )

    plivo_sandbox_factory(conn_id="plivo_wrong", password="bad")
    ok, message = PlivoHook("plivo_wrong").test_connection()
    assert not ok
    assert "authentication failed" in message


@pytest.mark.parametrize("chunk_size", [0, 11])
def test_chunk_size_must_fit_plivos_limit(chunk_size):
    with pytest.raises(ValueError, match="chunk_size must be 1 to 10"):
        PlivoHook(chunk_size=chunk_size)


def test_test_connection_makes_one_short_attempt_against_a_server_that_never_answers(plivo_env):
    import socket
    import time

    with socket.socket() as silent:  # accepts connections (the kernel does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        plivo_env(f"http://127.0.0.1:{silent.getsockname()[1]}", login="MA0000", password="t", timeout=2)
        started = time.monotonic()
        ok, message = PlivoHook().test_connection()
        elapsed = time.monotonic() - started

    assert not ok
    assert "did not answer within 2 s" in message
    assert elapsed < 6


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"timeout": "soon"}, "extra 'timeout' must be a positive number"),
        ({"host": "ftp://x"}, "https is required"),
    ],
)
def test_test_connection_reports_bad_settings_instead_of_raising(plivo_env, extra, expected):
    host = extra.pop("host", "http://127.0.0.1:9")
    plivo_env(host, login="MA0000", password="t", **extra)

    ok, message = PlivoHook().test_connection()

    assert not ok
    assert expected in message


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"chunk_size": "10"}, "chunk_size must be 1 to 10 (a whole number), got '10'"),
        ({"max_concurrency": 0}, "max_concurrency must be at least 1 (a whole number), got 0"),
        ({"retry_wait_max": float("inf")}, "retry_wait_max must be a finite number of seconds"),
        ({"rate_limit": 2.5}, "rate_limit must be at least 1 (a whole number), got 2.5"),
        (
            {"message_list_rate_limit": 0},
            "message_list_rate_limit must be at least 1 (a whole number), got 0",
        ),
        ({"message_list_rate_limit_period": 0}, "message_list_rate_limit_period must be more than 0 seconds"),
    ],
)
def test_hook_arguments_are_checked_by_name(arguments, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        PlivoHook(**arguments)


@pytest.mark.parametrize("media_id", ["", "../Media", "a/b", "x?limit=1"])
def test_ids_that_are_not_one_path_segment_are_refused_before_any_request(plivo_sandbox, media_id):
    with pytest.raises(PlivoError, match="is not a Plivo media ID"):
        fast_hook().get_media(media_id)
    with pytest.raises(PlivoError, match="is not a Plivo message UUID"):
        fast_hook().get_message(media_id)

    assert plivo_sandbox.requests == []


def test_one_path_string_is_one_file(plivo_sandbox, make_media):
    (path,) = make_media(1)

    (record,) = fast_hook().upload_media(path)

    assert record["file"] == path
    assert plivo_sandbox.media[record["media_id"]].data == Path(path).read_bytes()


def test_files_deleted_or_emptied_during_an_upload_fail_by_name_and_nothing_is_lost(
    plivo_sandbox, make_media
):
    files = make_media(30)
    deleted, emptied = Path(files[20]), Path(files[25])

    def change_files_once(records: list[MediaRecord]) -> None:
        if deleted.exists():
            deleted.unlink()
            emptied.write_bytes(b"")

    with pytest.raises(PlivoMediaUploadError) as raised:
        fast_hook(chunk_size=1, max_concurrency=1).upload_media(files, on_chunk_uploaded=change_files_once)

    assert set(raised.value.failures) == {str(deleted), str(emptied)}
    assert "deleted after validation" in raised.value.failures[str(deleted)]
    assert "shrank after validation" in raised.value.failures[str(emptied)]
    assert not raised.value.retryable
    uploaded = {record["media_id"] for record in raised.value.uploaded}
    assert uploaded == set(plivo_sandbox.media)
    assert len(uploaded) == 28
    assert all(media.data for media in plivo_sandbox.media.values())


def test_list_media_stops_at_total_count_when_a_server_always_offers_a_next_page(plivo_env):
    pages = itertools.count()

    def endless(path: str) -> dict[str, Any]:
        n = next(pages)
        page = [{"media_id": f"m{n}-{i}", "url": "https://media.example/x"} for i in range(20)]
        return {
            "meta": {"total_count": 44, "next": "/v1/Account/MA1/Media?offset=20&limit=20"},
            "objects": page,
        }

    with canned_plivo(plivo_env, lambda method, path: (200, endless(path))) as served:
        listed = fast_hook().list_media()

    assert len(served) == 3
    assert len(listed) == 60  # the third page is kept whole; no fourth is asked for
    assert all(media["media_url"] == "https://media.example/x" for media in listed)
