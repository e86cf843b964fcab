"""The sandbox's multipart/form-data parser, fed bodies that real clients (urllib3) encode."""

from __future__ import annotations

import pytest
from urllib3 import encode_multipart_formdata

from airflow_provider_plivo.sandbox.multipart import FormPart, MultipartError, parse_form_data

EVERY_BYTE = bytes(range(256))


def encoded(*files: tuple[str, bytes, str], boundary: str = "b0und4ry") -> tuple[str, bytes]:
    """A Content-Type and body as requests sends ``files=[("file", (name, data, type)), ...]``."""
    body, content_type = encode_multipart_formdata([("file", file) for file in files], boundary=boundary)
    return content_type, body


def test_binary_bodies_come_back_byte_for_byte():
    data = b"\x89PNG\r\n\x1a\n\x00" + EVERY_BYTE * 3 + b"\r\n--not the boundary\r\n\r\n"

    (part,) = parse_form_data(*encoded(("a.png", data, "image/png")))

    assert part == FormPart(name="file", file_name="a.png", content_type="image/png", data=data)


def test_several_parts_keep_their_order_names_and_types():
    files = [("a.jpg", b"one", "image/jpeg"), ("b.pdf", b"", "application/pdf"), ("c.txt", b"3", "text/csv")]

    parts = parse_form_data(*encoded(*files))

    assert [(p.file_name, p.content_type, p.data) for p in parts] == [
        ("a.jpg", "image/jpeg", b"one"),
        ("b.pdf", "application/pdf", b""),
        ("c.txt", "text/csv", b"3"),
    ]


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data; boundary=simple-boundary",
        'multipart/form-data; boundary="simple-boundary"',
        'Multipart/Form-Data;charset=utf-8;BOUNDARY="simple-boundary"',
    ],
)
def test_boundary_is_read_quoted_or_not_in_any_case(content_type):
    _, body = encoded(("a.png", b"x", "image/png"), boundary="simple-boundary")

    assert [p.data for p in parse_form_data(content_type, body)] == [b"x"]


def test_a_quoted_boundary_may_hold_spaces():
    body = b'--a b\r\nContent-Disposition: form-data; name="file"; filename="x"\r\n\r\ndata\r\n--a b--\r\n'

    (part,) = parse_form_data('multipart/form-data; boundary="a b"', body)

    assert part.data == b"data"


@pytest.mark.parametrize(
    ("content_type", "error"),
    [
        ("multipart/form-data", "needs a boundary"),
        ('multipart/form-data; boundary=""', "needs a boundary"),
        ("multipart/form-data; boundary=" + "x" * 71, "needs a boundary"),
        ("application/json", "must be multipart/form-data, not application/json"),
        ("", "not untyped"),
    ],
)
def test_a_missing_boundary_or_another_type_is_refused(content_type, error):
    with pytest.raises(MultipartError, match=error):
        parse_form_data(content_type, b"--x\r\n\r\n--x--\r\n")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"just some bytes", "the boundary never occurs"),
        (b'--B\r\nContent-Disposition: form-data; name="file"\r\n\r\ncut sh', "no closing boundary"),
        (b'--B\r\nContent-Disposition: form-data; name="file"\r\nno blank line\r\n--B--', "no blank line"),
        (b"--B\r\nContent-Disposition form-data\r\n\r\nx\r\n--B--", "part 1 has a header line"),
        (b"--B\r\nContent-Type: image/png\r\n\r\nx\r\n--B--", "part 1 lacks 'Content-Disposition"),
        (b"--B\r\nContent-Disposition: attachment; name=f\r\n\r\nx\r\n--B--", "lacks 'Content-Disposition"),
        (b"--Bjunk\r\nContent-Disposition: form-data; name=f\r\n\r\nx\r\n--Bjunk--", "never occurs"),
        (b"--B\r\nContent-Disposition: form-data; name=f; filename*=x''%41\r\n\r\nx\r\n--B--", "charset"),
    ],
)
def test_malformed_bodies_are_refused_saying_why(body, error):
    with pytest.raises(MultipartError, match=error):
        parse_form_data("multipart/form-data; boundary=B", body)


@pytest.mark.parametrize("name", ["my holiday photo.jpg", "café façade ☀.png", "日本語 ファイル.gif"])
def test_file_names_with_spaces_and_unicode_survive(name):
    (part,) = parse_form_data(*encoded((name, b"x", "image/jpeg")))

    assert part.file_name == name


def test_an_rfc_5987_file_name_wins_over_the_plain_one():
    body = (
        b'--B\r\nContent-Disposition: form-data; name="file"; filename="caf_.png"; '
        b"filename*=UTF-8''caf%C3%A9%20menu.png\r\n\r\nx\r\n--B--\r\n"
    )

    (part,) = parse_form_data("multipart/form-data; boundary=B", body)

    assert part.file_name == "café menu.png"


def test_crlf_and_blank_lines_inside_data_stay_in_the_data():
    data = b"\r\n\r\nheader-like: line\r\n\r\n--\r\n--B\x00not it\r\n"

    (part,) = parse_form_data(*encoded(("a.txt", data, "text/plain"), boundary="B"))

    assert part.data == data


def test_preamble_and_epilogue_are_ignored_and_a_part_may_have_no_type():
    body = b'preamble\r\n--B\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n--B--\r\nepilogue'

    (part,) = parse_form_data("multipart/form-data; boundary=B", body)

    assert part == FormPart(name="note", file_name="", content_type="application/octet-stream", data=b"hi")


def test_a_closing_boundary_alone_is_no_parts():
    assert parse_form_data("multipart/form-data; boundary=B", b"--B--\r\n") == []
