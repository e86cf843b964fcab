"""The media rules: accepted types with their IANA names, and the checks run before upload."""

from __future__ import annotations

import os

import pytest

from airflow_provider_plivo.exceptions import PlivoMediaValidationError
from airflow_provider_plivo.limits import MAX_MEDIA_FILE_SIZE
from airflow_provider_plivo.utils.media_rules import media_content_type, validate_media_files


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


def test_every_problem_is_reported_at_once_naming_each_file(tmp_path):
    good = tmp_path / "good.jpg"
    good.write_bytes(b"jpeg")
    at_limit = tmp_path / "at_limit.png"
    at_limit.write_bytes(b"x" * MAX_MEDIA_FILE_SIZE)
    over = tmp_path / "over.png"
    over.write_bytes(b"x" * (MAX_MEDIA_FILE_SIZE + 1))
    empty = tmp_path / "empty.gif"
    empty.touch()
    folder = tmp_path / "folder.jpg"
    folder.mkdir()
    wrong = tmp_path / "virus.exe"
    wrong.write_bytes(b"MZ")
    missing = tmp_path / "missing.pdf"

    with pytest.raises(PlivoMediaValidationError) as raised:
        validate_media_files([str(p) for p in (good, at_limit, over, empty, folder, wrong, missing)])

    assert raised.value.problems == [
        f"{over}: 2,000,001 bytes is over Plivo's limit of 2,000,000 bytes per file",
        f"{empty}: file is empty",
        f"{folder}: not a regular file",
        f"{wrong}: type '.exe' is not accepted for MMS (accepted: .jpg, .jpeg, .png, .gif, .mp4, .3gp, "
        ".mov, .mp3, .wav, .amr, .ogg, .pdf, .txt, .vcf, .csv, .xls, .xlsx)",
        f"{missing}: no such file",
    ]
    assert str(raised.value).startswith("5 media files cannot be uploaded to Plivo, nothing was sent:")
    assert isinstance(raised.value, ValueError)


def test_the_size_limit_is_a_setting(tmp_path):
    path = tmp_path / "a.jpg"
    path.write_bytes(b"x" * 2_097_152)

    validate_media_files([str(path)], max_file_size=2_097_152)
    with pytest.raises(PlivoMediaValidationError, match="over Plivo's limit of 1,000 bytes"):
        validate_media_files([str(path)], max_file_size=1_000)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_is_reported(tmp_path):
    path = tmp_path / "secret.png"
    path.write_bytes(b"png")
    path.chmod(0)

    with pytest.raises(PlivoMediaValidationError, match=r"secret\.png: permission denied"):
        validate_media_files([str(path)])
