"""Local files: names are names, and what is sent is exactly what was validated.

A file that changes between validation and its last byte sent raises PlivoMediaFileChangedError,
never a short or long part. (The same for S3 objects: test_object_storage.py.)
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

import pytest
import requests

from airflow_provider_plivo.exceptions import PlivoMediaFileChangedError, PlivoMediaValidationError
from airflow_provider_plivo.hooks.plivo import PlivoHook
from airflow_provider_plivo.media.multipart import MediaBody
from airflow_provider_plivo.media.rules import validate_media_files
from airflow_provider_plivo.media.sources import expand_media_entries, media_file
from tests.support.hangs import never_blocked

if TYPE_CHECKING:
    from pathlib import Path

    from airflow_provider_plivo.media.sources import MediaFile


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name in ("photo[1].jpg", "photo1.jpg", "photo2.jpg", "plain.jpg", "a*b.png", "what?.gif", "a.jpg "):
        (tmp_path / name).write_bytes(name.encode())
    return tmp_path


def sources(entries: list[str]) -> list[str]:
    return [file.source for file in expand_media_entries(entries)]


def test_an_existing_name_is_that_file_whatever_characters_it_holds(folder, plivo_sandbox):
    entries = [f"{folder}/photo[1].jpg", f"{folder}/plain.jpg", f"{folder}/a*b.png", f"{folder}/what?.gif"]

    files = expand_media_entries(entries)
    records = PlivoHook().upload_media(entries)

    assert [file.source for file in files] == entries
    assert [plivo_sandbox.media[r["media_id"]].data for r in records] == [
        b"photo[1].jpg",
        b"plain.jpg",
        b"a*b.png",
        b"what?.gif",
    ]


def test_a_name_is_never_stripped(folder):
    assert sources([f"{folder}/a.jpg "]) == [f"{folder}/a.jpg "]
    with pytest.raises(PlivoMediaValidationError, match=r"\n  -  /\S+/plain\.jpg: no such file"):
        validate_media_files([f" {folder}/plain.jpg"])


def test_a_pattern_that_names_no_file_is_a_glob(folder):
    assert sources([f"{folder}/photo[2].jpg"]) == [f"{folder}/photo2.jpg"]
    assert sources([f"{folder}/photo?.jpg"]) == [f"{folder}/photo1.jpg", f"{folder}/photo2.jpg"]


def test_glob_and_literal_prefixes_force_either_reading(folder):
    assert sources([f"glob:{folder}/photo[1].jpg"]) == [f"{folder}/photo1.jpg"]
    assert sources([f"literal:{folder}/photo[2].jpg"]) == [f"{folder}/photo[2].jpg"]
    with pytest.raises(PlivoMediaValidationError, match=r"photo\[2\]\.jpg: no such file"):
        validate_media_files(expand_media_entries([f"literal:{folder}/photo[2].jpg"]))


def test_a_file_uri_keeps_question_marks_and_brackets_as_part_of_the_name(folder):
    (what,) = expand_media_entries([f"file://{folder}/what?.gif"])
    (bracketed,) = expand_media_entries([f"file://{folder}/photo[1].jpg"])

    assert what.source == f"file://{folder}/what?.gif"
    assert what.info().size == len(b"what?.gif")
    assert bracketed.info().size == len(b"photo[1].jpg")
    assert sources([f"file://{folder}/photo[2].jpg"]) == [f"file://{folder}/photo2.jpg"]


def test_a_local_object_storage_path_is_a_local_file(folder):
    from airflow.sdk import ObjectStoragePath

    file = media_file(ObjectStoragePath(f"file://{folder}/plain.jpg"))

    assert file.source == f"file://{folder}/plain.jpg"
    assert file.dataset() == ("file", f"{folder}/plain.jpg")
    assert file.info().size == len(b"plain.jpg")


def validated(tmp_path: Path, size: int = 1_234) -> tuple[Path, MediaFile]:
    path = tmp_path / "m.jpg"
    path.write_bytes(bytes(i % 251 for i in range(size)))
    file = media_file(str(path))
    assert file.info().size == size
    return path, file


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _rewritten(path: Path, data: bytes) -> None:
    """``path`` written again in place, a millisecond after validation (the file system's clock
    may not have ticked yet in a test this quick: the time is set as a later write would)."""
    before = path.stat()
    path.write_bytes(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))


def _renamed_over(path: Path, data: bytes) -> None:
    """Another file of the same size and modification time renamed over ``path``: only its inode
    tells it apart."""
    before = path.stat()
    other = path.with_name("other")
    other.write_bytes(data)
    os.utime(other, ns=(before.st_atime_ns, before.st_mtime_ns))
    other.replace(path)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda path: path.unlink(), "deleted after validation"),
        (lambda path: path.write_bytes(b""), "shrank after validation: now 0 bytes, validated as 1,234"),
        (
            lambda path: path.write_bytes(b"x" * 1_300),
            "grew after validation: now 1,300 bytes, validated as 1,234",
        ),
        (lambda path: (path.unlink(), path.mkdir()), "not a regular file (now a folder, after validation)"),
        (_fifo, "not a regular file (now a FIFO, after validation)"),
        (lambda path: (path.unlink(), path.symlink_to("/dev/zero")), "not a regular file (now a character"),
        (lambda path: _rewritten(path, b"y" * 1_234), "replaced or rewritten after validation"),
        (lambda path: _renamed_over(path, b"z" * 1_234), "replaced or rewritten after validation"),
    ],
    ids=[
        "deleted",
        "emptied",
        "grew",
        "replaced by a folder",
        "replaced by a FIFO",
        "replaced by a device",
        "rewritten, same size",
        "renamed over, same size and time",
    ],
)
def test_a_file_changed_between_validation_and_open_is_not_opened(tmp_path, change, reason):
    path, file = validated(tmp_path)

    change(path)
    with never_blocked(), pytest.raises(PlivoMediaFileChangedError) as raised:
        file.open()

    assert raised.value.reason.startswith(reason)
    assert raised.value.source == str(path)
    assert str(raised.value).startswith(f"{path}: {reason}")
    assert not isinstance(raised.value, OSError)


def test_a_file_that_shrinks_while_it_is_read_stops_the_part(tmp_path):
    path, file = validated(tmp_path, 1_000_000)  # far more than the reader buffers ahead
    stream = file.open()
    assert stream.read(100) == path.read_bytes()[:100]

    path.write_bytes(b"short")
    with pytest.raises(PlivoMediaFileChangedError) as raised:
        stream.read()
    stream.close()

    assert re.fullmatch(
        r"shrank after validation: ended after [\d,]+ of 1,000,000 bytes", raised.value.reason
    )


def test_a_file_that_grows_while_it_is_read_stops_the_part(tmp_path):
    path, file = validated(tmp_path)
    stream = file.open()
    assert stream.read(100) == path.read_bytes()[:100]

    with path.open("ab") as more:
        more.write(b"appended")
    with pytest.raises(PlivoMediaFileChangedError) as raised:
        stream.read()
    stream.close()

    assert raised.value.reason == "grew after validation: more than the 1,234 bytes validated"


def test_an_unchanged_file_streams_exactly_its_validated_bytes_and_counts_down(tmp_path):
    path, file = validated(tmp_path)
    stream = file.open()
    lengths = [stream.len]
    data = b""
    while stream.len:
        data += stream.read(500)
        lengths.append(stream.len)
    stream.close()

    assert data == path.read_bytes()
    assert lengths == [1_234, 734, 234, 0]
    assert stream.read() == b""


def test_a_change_during_an_upload_reaches_the_caller_unwrapped_by_requests(tmp_path, plivo_sandbox):
    path, file = validated(tmp_path)
    body = MediaBody([file])
    assert len(body) > 1_234

    path.write_bytes(b"")
    with pytest.raises(PlivoMediaFileChangedError, match="shrank after validation: now 0 bytes"):
        requests.post(
            f"{plivo_sandbox.url}/v1/Account/{plivo_sandbox.auth_id}/Media/",
            data=body,
            headers={"Content-Type": body.content_type},
            timeout=10,
        )


@pytest.mark.parametrize("size", [1, 300 * 1024])  # within one send block, and over one
def test_upload_bodies_frame_every_name_and_byte_and_declare_their_length(tmp_path, plivo_sandbox, size):
    names = ["my holiday photo.jpg", "café façade ☀.png", "日本語 ファイル.gif"]
    contents = [bytes([n]) * (size + n) for n in range(len(names))]
    for name, content in zip(names, contents, strict=True):
        (tmp_path / name).write_bytes(content)
    files = [media_file(str(tmp_path / name)) for name in names]
    validate_media_files(files)

    body = MediaBody(files)
    assert len(b"".join(body)) == len(body)
    records = PlivoHook().upload_media([str(tmp_path / name) for name in names])

    assert [record["file_name"] for record in records] == names
    assert [requests.get(str(record["media_url"]), timeout=5).content for record in records] == contents


def test_one_file_by_five_spellings_is_uploaded_once_and_each_gets_its_record(
    tmp_path, monkeypatch, plivo_sandbox
):
    (tmp_path / "sub").mkdir()
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"one photo")
    (tmp_path / "link.jpg").symlink_to(photo)
    (tmp_path / "other.jpg").write_bytes(b"another photo")
    monkeypatch.chdir(tmp_path)
    spellings = [
        "photo.jpg",
        str(photo),
        str(tmp_path / "link.jpg"),
        f"file://{photo}",
        f"{tmp_path}/sub/../photo.jpg",
        "./other.jpg",
        "./sub/../photo.jpg",
    ]

    records = PlivoHook().upload_media(spellings)

    assert [record["file"] for record in records] == spellings
    assert len({record["media_id"] for record in records}) == 2
    assert {r["media_id"] for r in records if r["file"] != "./other.jpg"} == {records[0]["media_id"]}
    assert sorted(media.data for media in plivo_sandbox.media.values()) == [b"another photo", b"one photo"]


def test_a_same_size_rewrite_while_the_file_streams_stops_the_part_before_its_last_block(tmp_path):
    path, file = validated(tmp_path)
    stream = file.open()
    first = stream.read(1_000)

    _rewritten(path, b"r" * 1_234)
    with pytest.raises(PlivoMediaFileChangedError, match="replaced or rewritten after validation"):
        stream.read(1_000)
    stream.close()

    assert len(first) == 1_000
