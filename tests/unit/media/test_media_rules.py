"""The media rules: accepted types with their IANA names, and the checks run before upload."""

from __future__ import annotations

import errno
import hashlib
import io
import os
from typing import TYPE_CHECKING

import pytest

from airflow_provider_plivo.exceptions import (
    PlivoMediaFileBusyError,
    PlivoMediaFileChangedError,
    PlivoMediaValidationError,
)
from airflow_provider_plivo.limits import MAX_MEDIA_FILE_SIZE
from airflow_provider_plivo.media.rules import media_content_type, validate_media_files
from airflow_provider_plivo.media.sources import MediaStream, media_file
from airflow_provider_plivo.transport.core import is_transient

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.jpg", "image/jpeg"),
        ("A.JPEG", "image/jpeg"),
        ("b.png", "image/png"),
        ("c.gif", "image/gif"),
        ("d.mp4", "video/mp4"),
        ("e.3gp", "video/3gpp"),
        ("f.mov", "video/quicktime"),
        ("g.mp3", "audio/mpeg"),
        ("h.wav", "audio/wav"),
        ("i.amr", "audio/amr"),
        ("j.ogg", "audio/ogg"),
        ("k.pdf", "application/pdf"),
        ("l.txt", "text/plain"),
        ("m.vcf", "text/vcard"),
        ("n.csv", "text/csv"),
        ("o.xls", "application/vnd.ms-excel"),
        ("p.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("q.exe", None),
        ("no_extension", None),
        ("archive.tar.gz", None),
    ],
)
def test_content_type_comes_from_the_extension(name, expected):
    assert media_content_type(name) == expected


ACCEPTED = ".jpg, .jpeg, .png, .gif, .mp4, .pdf, .txt"
UNREADABLE = pytest.param(
    "secret.png",
    "unreadable",
    "permission denied",
    marks=pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file"),
)
RULES: list[tuple[str, bytes | str | None, str]] = [
    # (file name, what it is, the exact problem reported after its path)
    (
        "over.png",
        b"x" * (MAX_MEDIA_FILE_SIZE + 1),
        "2,000,001 bytes is over Plivo's limit of 2,000,000 bytes per file",
    ),
    ("empty.gif", b"", "file is empty"),
    ("folder.jpg", "folder", "not a regular file"),
    ("virus.exe", b"MZ", f"type '.exe' is not accepted for MMS (accepted: {ACCEPTED})"),
    (
        "voice.wav",
        b"RIFF",
        f"type '.wav' is not accepted by Plivo's media upload (accepted: {ACCEPTED}); "
        "MMS can still carry it from a server of your own with media_urls",
    ),
    ("missing.pdf", None, "no such file"),
]
"""Every rule a file can break (but being unreadable, which root cannot see)."""


def make_file(folder: Path, name: str, content: bytes | str | None) -> Path:
    """Create ``name`` in ``folder``: with these bytes, as a folder, unreadable, or not at all (None)."""
    path = folder / name
    if content == "folder":
        path.mkdir()
    elif content == "unreadable":
        path.write_bytes(b"png")
        path.chmod(0)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    return path


def good_files(folder: Path) -> list[str]:
    """Two files every rule accepts: a small one and one of exactly the size limit."""
    return [
        str(make_file(folder, "good.jpg", b"jpeg")),
        str(make_file(folder, "at_limit.png", b"x" * MAX_MEDIA_FILE_SIZE)),
    ]


@pytest.mark.parametrize(("name", "content", "problem"), [*RULES, UNREADABLE])
def test_each_rule_names_the_file_and_its_problem(tmp_path, name, content, problem):
    bad = make_file(tmp_path, name, content)

    with pytest.raises(PlivoMediaValidationError) as raised:
        validate_media_files([*good_files(tmp_path), str(bad)])

    assert raised.value.problems == [f"{bad}: {problem}"]
    assert str(raised.value).startswith("1 media file cannot be uploaded to Plivo, nothing was sent:")


def test_every_problem_is_reported_at_once_in_input_order(tmp_path):
    bad = [make_file(tmp_path, name, content) for name, content, _ in RULES]

    with pytest.raises(PlivoMediaValidationError) as raised:
        validate_media_files([*good_files(tmp_path), *map(str, bad)])

    assert raised.value.problems == [
        f"{path}: {problem}" for path, (*_, problem) in zip(bad, RULES, strict=True)
    ]
    assert str(raised.value).startswith("6 media files cannot be uploaded to Plivo, nothing was sent:")
    assert isinstance(raised.value, ValueError)


def test_the_size_limit_is_a_setting(tmp_path):
    path = tmp_path / "a.jpg"
    path.write_bytes(b"x" * 2_097_152)

    validate_media_files([str(path)], max_file_size=2_097_152)
    with pytest.raises(PlivoMediaValidationError, match="over Plivo's limit of 1,000 bytes"):
        validate_media_files([str(path)], max_file_size=1_000)


@pytest.mark.parametrize(
    "name", ["a.3gp", "b.mov", "c.mp3", "d.wav", "e.amr", "f.ogg", "g.vcf", "h.csv", "i.XLSX"]
)
def test_types_plivo_sends_but_does_not_take_as_uploads_are_refused_by_name(tmp_path, name):
    """Plivo's media object page lists "JPG, PNG, MP4, GIF, PDF, text" and refused a WAV upload
    with 400; the MMS pages' other types are for media_urls only."""
    bad = make_file(tmp_path, name, b"data")

    with pytest.raises(PlivoMediaValidationError) as raised:
        validate_media_files([*good_files(tmp_path), str(bad)])

    assert raised.value.problems == [
        f"{bad}: type {os.path.splitext(name)[1]!r} is not accepted by Plivo's media upload "
        f"(accepted: {ACCEPTED}); MMS can still carry it from a server of your own with media_urls"
    ]


@pytest.mark.parametrize("code", [errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.EAGAIN])
def test_running_out_of_descriptors_or_memory_on_open_is_transient(tmp_path, monkeypatch, code):
    (tmp_path / "a.jpg").write_bytes(b"jpeg")
    file = media_file(str(tmp_path / "a.jpg"))
    file.info()

    def out_of_resources(*args: object) -> int:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "open", out_of_resources)
    with pytest.raises(
        PlivoMediaFileBusyError, match=rf"a\.jpg: could not be opened for now \({os.strerror(code)}"
    ) as raised:
        file.open()
    assert is_transient(raised.value)


def test_other_open_errors_stay_permanent(tmp_path, monkeypatch):
    (tmp_path / "a.jpg").write_bytes(b"jpeg")
    file = media_file(str(tmp_path / "a.jpg"))
    file.info()

    def refused(*args: object) -> int:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(os, "open", refused)
    with pytest.raises(PlivoMediaFileChangedError) as raised:
        file.open()
    assert not is_transient(raised.value)


def test_bytes_that_do_not_match_the_etag_they_were_validated_with_stop_before_the_last_block():
    data = b"the bytes streamed" * 10
    validated = hashlib.md5(b"the bytes validated", usedforsecurity=False).hexdigest()
    stream = MediaStream(io.BytesIO(data), "s3://mms/a.jpg", len(data), md5=validated)

    first = stream.read(100)
    with pytest.raises(
        PlivoMediaFileChangedError,
        match=r"^s3://mms/a\.jpg: changed after validation: its bytes no longer match its ETag",
    ):
        stream.read(100)

    assert first == data[:100]
    same = MediaStream(
        io.BytesIO(data),
        "s3://mms/a.jpg",
        len(data),
        md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
    )
    assert same.read() == data
