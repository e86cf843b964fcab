"""The sandbox under abuse: malformed bodies and headers get a 4xx (never a 500 or silence), a
slowloris client is cut off by the request's deadline, and huge bodies cost bounded memory.
(Its list pages come from an index: tests/sandbox/test_sandbox_lists.py.)"""

from __future__ import annotations

import base64
import http.client
import json
import os
import random
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from urllib3 import encode_multipart_formdata

from airflow_provider_plivo.sandbox import PlivoSandbox
from airflow_provider_plivo.sandbox.credentials import SANDBOX_AUTH_ID, SANDBOX_AUTH_TOKEN

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.adversarial

SRC = "+14155550100"
AUTHORIZATION = "Basic " + base64.b64encode(f"{SANDBOX_AUTH_ID}:{SANDBOX_AUTH_TOKEN}".encode()).decode()
PATH = f"/v1/Account/{SANDBOX_AUTH_ID}"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[PlivoSandbox]:
    with PlivoSandbox() as running:
        yield running


def address(sandbox: PlivoSandbox) -> tuple[str, int]:
    url = urlsplit(sandbox.url)
    assert url.hostname is not None
    assert url.port is not None
    return url.hostname, url.port


def exchange(sandbox: PlivoSandbox, request: bytes) -> tuple[int, bytes]:
    """Send ``request`` as is, then end the sending side; (status, body) of the answer, status 0
    when the sandbox closed the connection without one."""
    with socket.create_connection(address(sandbox), timeout=20) as conn:
        conn.sendall(request)
        conn.shutdown(socket.SHUT_WR)
        answer = b"".join(iter(lambda: conn.recv(65536), b""))
    head, _, body = answer.partition(b"\r\n\r\n")
    return (int(head.split()[1]) if head else 0), body


def request(
    method: str, path: str, headers: dict[str, str] | list[tuple[str, str]], body: bytes = b""
) -> bytes:
    lines = headers.items() if isinstance(headers, dict) else headers
    head = "".join(f"{name}: {value}\r\n" for name, value in lines)
    return (
        f"{method} {PATH}/{path} HTTP/1.1\r\nHost: sandbox\r\nConnection: close\r\n{head}\r\n".encode(
            "latin-1"
        )
        + body
    )


def post_json(body: bytes) -> bytes:
    headers = {"Authorization": AUTHORIZATION, "Content-Type": "application/json"}
    return request("POST", "Message/", {**headers, "Content-Length": str(len(body))}, body)


def post_form(body: bytes, content_type: str = "multipart/form-data; boundary=B") -> bytes:
    headers = {"Authorization": AUTHORIZATION, "Content-Type": content_type}
    return request("POST", "Media/", {**headers, "Content-Length": str(len(body))}, body)


def form_with_disposition(disposition: str) -> bytes:
    return (
        f'--B\r\nContent-Disposition: form-data; name="file"; {disposition}\r\n'
        "Content-Type: image/png\r\n\r\npng\r\n--B--\r\n"
    ).encode("latin-1")


def plivo_error(body: bytes) -> str:
    """The ``error`` of an answer in Plivo's error shape (``api_id`` and ``error``)."""
    answer = json.loads(body)
    assert set(answer) == {"api_id", "error"}
    return str(answer["error"])


# -- malformed bodies: 400 in Plivo's shape ----------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        b'{"src": "+14155550100", "dst": "+14155550101", "text": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    ],
    ids=["open-list", "closed-list", "closed-object", "deep-field"],
)
def test_json_nested_100000_deep_gets_400_in_plivos_shape(sandbox, body):
    status, answer = exchange(sandbox, post_json(body))

    assert (status, plivo_error(answer)) == (400, "the body must be JSON")


def test_a_lone_surrogate_in_the_json_gets_400_not_500(sandbox):
    body = json.dumps({"src": SRC, "dst": "+14155550101", "text": "\ud800"}).encode()

    status, answer = exchange(sandbox, post_json(body))

    assert (status, plivo_error(answer)) == (
        400,
        "the body's strings must be text: it escapes a lone surrogate",
    )


@pytest.mark.parametrize(
    ("disposition", "error"),
    [
        ("filename*=x-unknown''a.png", "part 1: unknown charset 'x-unknown' in filename*"),
        ("filename*=base64''YS5wbmc=", "part 1: unknown charset 'base64' in filename*"),
        ("filename*=rot13''n.cat", "part 1: unknown charset 'rot13' in filename*"),
        ("filename*=UTF-8''%zz.png", "part 1: filename* \"UTF-8''%zz.png\" is not percent-encoded ASCII"),
        ("filename*=UTF-8''a.png%", "part 1: filename* \"UTF-8''a.png%\" is not percent-encoded ASCII"),
        ("filename*=UTF-8''%4.png", "part 1: filename* \"UTF-8''%4.png\" is not percent-encoded ASCII"),
        (
            "filename*=UTF-8''caf\xe9.png",
            "part 1: filename* \"UTF-8''caf\xe9.png\" is not percent-encoded ASCII",
        ),
        ("filename*=UTF-8''%FF%FE.png", "part 1: filename* \"UTF-8''%FF%FE.png\" is not valid UTF-8"),
        ("filename*=ascii''%C3%A9.png", "part 1: filename* \"ascii''%C3%A9.png\" is not valid ascii"),
        ("filename*=idna''%FF", "part 1: filename* \"idna''%FF\" is not valid idna"),
        ("filename*=utf-16''%41", "part 1: filename* \"utf-16''%41\" is not valid utf-16"),
        ("filename*=''a.png", "part 1: filename* \"''a.png\" does not read charset'language'name"),
        ("filename*=a.png", "part 1: filename* 'a.png' does not read charset'language'name"),
        ("filename*=x-unknown''", "part 1: filename* \"x-unknown''\" names no file"),
    ],
)
def test_any_bad_rfc_8187_file_name_gets_400_naming_it(sandbox, disposition, error):
    status, answer = exchange(sandbox, post_form(form_with_disposition(disposition)))

    assert (status, plivo_error(answer)) == (400, error)
    assert sandbox.media == {}


def test_a_good_rfc_8187_file_name_with_a_language_is_read(sandbox):
    body = form_with_disposition("filename=\"x.png\"; filename*=ISO-8859-1'fr'caf%E9.png")

    status, answer = exchange(sandbox, post_form(body))

    assert status == 200
    assert [o["file_name"] for o in json.loads(answer)["objects"]] == ["café.png"]


def malformed_requests(rng: random.Random) -> Iterator[tuple[str, bytes]]:  # noqa: PLR0912, PLR0915
    """(kind, raw request): every one of them wrong in some way Plivo refuses."""
    valid = json.dumps({"src": SRC, "dst": "+14155550101<+14155550102", "text": "hello", "type": "sms"})
    form, form_type = encode_multipart_formdata(
        [
            ("file", ("a.png", b"\x89PNG" + rng.randbytes(300), "image/png")),
            ("file", ("b.gif", b"GIF89a", "image/gif")),
        ],
        boundary="fuzzb0undary",
    )
    odd_values: list[Any] = [1, -1.5, 1e308, True, [], {}, [[[]]], {"a": {"b": []}}, ["+14155550101"]]
    for _ in range(40):  # JSON cut short, or with bytes no JSON holds
        cut = rng.randrange(len(valid) - 1)
        yield "json-cut", post_json(valid[:cut].encode() + rng.choice([b"", b"\xff", b"\x00", b"\\", b'"']))
    for _ in range(30):  # JSON of the wrong types: each string field given a value of another type
        fields = json.loads(valid)
        for name in rng.sample(["src", "dst", "text", "type"], rng.randint(1, 3)):
            fields[name] = rng.choice(odd_values)
        yield "json-types", post_json(json.dumps(fields).encode())
    for _ in range(20):  # deep, wide or otherwise hostile JSON
        depth = rng.choice([900, 5_000, 100_000, 300_000])
        opener = rng.choice([b"[", b'{"a":', b'{"text":['])
        yield "json-deep", post_json(opener * depth + rng.choice([b"", b"1", b"null"]))
    for _ in range(10):
        yield "json-garbage", post_json(rng.randbytes(rng.randrange(1, 2000)).replace(b"{", b"\xff"))
    for _ in range(40):  # a multipart body cut short of its closing delimiter
        cut = rng.randrange(len(form) - len(b"--fuzzb0undary--\r\n"))
        yield "form-cut", post_form(form[:cut], form_type)
    charsets = [
        "utf-8",
        "UTF-8",
        "iso-8859-1",
        "ascii",
        "idna",
        "punycode",
        "utf-16",
        "unicode_escape",
        "cp1252",
    ]
    bad_values = ["%", "%z", "%4", "%G0", "a%", "%%41", "\xe9", "%FF%FE%FD"]
    for _ in range(40):  # filename* that cannot be read: unknown charset, bad escapes
        if rng.random() < 0.3:
            charset = "".join(
                rng.choice("abcdefghijklmnopqrstuvwxyz-_0123456789") for _ in range(rng.randint(1, 12))
            )
            value = f"{charset}x-nope''{rng.choice(['a.png', '%41', ''])}"
        else:
            bad = rng.choice(bad_values[:-1] if rng.random() < 0.5 else bad_values)
            value = f"{rng.choice(charsets)}'{rng.choice(['', 'en', 'fr-CA'])}'a{bad}.png"
            if bad == "%FF%FE%FD" and value.split("'")[0].lower() not in ("utf-8", "ascii", "idna"):
                value = value.replace("%FF%FE%FD", "%")
        yield "form-filename*", post_form(form_with_disposition(f"filename*={value}"))
    for _ in range(30):  # part headers that are not headers
        junk = rng.choice(["no colon here", ":", "Content-Disposition form-data", "\x00\x01", "é: x"])
        body = f"--B\r\n{junk}\r\n\r\nx\r\n--B--\r\n".encode("latin-1")
        if rng.random() < 0.5:
            body = body.replace(b"\r\n\r\n", b"\r\n", 1)  # and no blank line
        yield "form-headers", post_form(body)
    for _ in range(20):  # a Content-Type that does not describe the body
        content_type = rng.choice(
            [
                "multipart/form-data",
                "multipart/form-data; boundary=",
                "multipart/form-data; boundary=" + "x" * 71,
                "multipart/form-data; boundary=other",
                "multipart/form-data; boundary=\xff\xfe",
                "text/plain",
                "",
                'multipart/form-data; boundary="unclosed',
            ]
        )
        yield "form-type", post_form(form, content_type)
    for _ in range(40):  # framing: Content-Length and chunking that lie
        body = valid.encode()
        headers = [("Authorization", AUTHORIZATION), ("Content-Type", "application/json")]
        choice = rng.randrange(5)
        if choice == 0:
            headers.append(
                ("Content-Length", rng.choice(["abc", "-1", "1e3", "0x10", " ", "99999999999999", "1 2"]))
            )
        elif choice == 1:
            headers += [("Content-Length", str(len(body))), ("Content-Length", str(len(body) + 1))]
        elif choice == 2:
            headers.append(("Content-Length", str(len(body) + rng.randint(1, 500))))  # more than comes
        elif choice == 3:
            headers.append(("Transfer-Encoding", "chunked"))
            body = (
                rng.choice([b"zz\r\n", b"5\r\nabc", b"3\r\nabcXY", b"-1\r\n", b"ffffffffffffffff\r\n"]) + body
            )
        else:
            headers.append(("Transfer-Encoding", "chunked"))
            body = f"{len(body):x}\r\n".encode() + body + b"\r\n"  # no last chunk: the body never ends
        yield "framing", request("POST", "Message/", headers, body)
    for _ in range(30):  # credentials that are not Basic ones
        value = rng.choice(
            [
                "Basic ###",
                "Basic " + base64.b64encode(rng.randbytes(20)).decode(),
                "Bearer x",
                "Basic",
                "Basic é",
            ]
        )
        yield "auth", request("GET", "Media/", [("Authorization", value)])


def test_a_few_hundred_malformed_requests_all_get_a_4xx():
    rng = random.Random(20)
    answers: dict[str, list[int]] = {}

    with PlivoSandbox() as sandbox:
        for kind, raw in malformed_requests(rng):
            status, _ = exchange(sandbox, raw)
            answers.setdefault(kind, []).append(status)

    print({kind: sorted(set(statuses)) for kind, statuses in answers.items()})
    assert sum(map(len, answers.values())) >= 300
    assert {kind: [s for s in statuses if not 400 <= s < 500] for kind, statuses in answers.items()} == {
        kind: [] for kind in answers
    }
    assert sandbox.messages == {}
    assert sandbox.media == {}


# -- the request's deadline --------------------------------------------------------------------


def trickle(conn: socket.socket, data: bytes, every: float) -> int:
    """Send ``data`` a byte every ``every`` seconds until done or the sandbox answers or closes;
    how many bytes went."""
    for sent, byte in enumerate(data):
        readable, _, _ = select.select([conn], [], [], every)
        if readable:
            return sent
        try:
            conn.sendall(bytes([byte]))
        except OSError:
            return sent
    return len(data)


def test_a_body_sent_a_byte_at_a_time_is_cut_off_at_the_request_deadline():
    body = json.dumps({"src": SRC, "dst": "+14155550101", "text": "slowly"}).encode()
    head = post_json(body)[: -len(body)]
    with PlivoSandbox(request_deadline=2.5) as sandbox, socket.create_connection(address(sandbox)) as conn:
        conn.sendall(head)  # each byte then arrives well within the read timeout (10 s)

        sent = trickle(conn, body, every=1.0)
        answer = b"".join(iter(lambda: conn.recv(65536), b""))

    assert sent < len(body)
    head_lines, _, error = answer.partition(b"\r\n\r\n")
    assert head_lines.split()[1] == b"408"
    assert b"Connection: close" in head_lines
    assert plivo_error(error) == "the request took longer than its 2.5 s deadline"
    assert [(r.method, r.status) for r in sandbox.requests] == [("POST", 408)]
    assert sandbox.messages == {}


def test_headers_sent_a_byte_at_a_time_are_cut_off_at_the_request_deadline():
    with PlivoSandbox(request_deadline=2) as sandbox, socket.create_connection(address(sandbox)) as conn:
        raw = request("GET", "Message/", {"Authorization": AUTHORIZATION, "X-Padding": "p" * 40})

        sent = trickle(conn, raw, every=1.0)
        closed = conn.recv(65536) == b""

    assert sent < len(raw)
    assert closed
    assert sandbox.requests == []


def test_the_deadline_starts_with_a_requests_first_byte_not_with_the_connection():
    with PlivoSandbox(request_deadline=1) as sandbox:
        conn = http.client.HTTPConnection(*address(sandbox), timeout=10)
        try:
            conn.request("GET", f"{PATH}/Media/", headers={"Authorization": AUTHORIZATION})
            first = conn.getresponse()
            first.read()
            time.sleep(1.5)  # idle on the kept-alive connection, longer than the deadline
            conn.request("GET", f"{PATH}/Media/", headers={"Authorization": AUTHORIZATION})
            second = conn.getresponse()
            second.read()
        finally:
            conn.close()

    assert (first.status, second.status) == (200, 200)


# -- bounded memory ----------------------------------------------------------------------------

MB = 1_000_000


def stream(parts: list[tuple[str, int]], boundary: str = "m3m0ry") -> tuple[int, Iterator[bytes]]:
    """A multipart body of ``(file name, size)`` parts, as its length and pieces (never whole)."""
    block = b"\x89PNG" + bytes(range(256)) * (MB // 256)
    heads = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: image/png\r\n\r\n".encode()
        for name, _ in parts
    ]
    tail = f"--{boundary}--\r\n".encode()
    length = sum(len(h) + size + 2 for h, (_, size) in zip(heads, parts, strict=True)) + len(tail)

    def pieces() -> Iterator[bytes]:
        for head, (_, size) in zip(heads, parts, strict=True):
            yield head
            for at in range(0, size, len(block)):
                yield block[: min(len(block), size - at)]
            yield b"\r\n"
        yield tail

    return length, pieces()


def upload_streamed(url: str, parts: list[tuple[str, int]], *, chunked: bool) -> tuple[int, str]:
    length, pieces = stream(parts)
    split = urlsplit(url)
    assert split.hostname is not None
    assert split.port is not None
    conn = http.client.HTTPConnection(split.hostname, split.port, timeout=120)
    headers = {"Authorization": AUTHORIZATION, "Content-Type": "multipart/form-data; boundary=m3m0ry"}
    if not chunked:
        headers["Content-Length"] = str(length)
    try:
        conn.request("POST", f"{PATH}/Media/", body=pieces, headers=headers, encode_chunked=chunked)
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read())["error"]
    finally:
        conn.close()


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc status")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/<pid>/status")
def test_eight_concurrent_60_mb_uploads_keep_the_sandbox_under_300_mb():
    command = [os.path.join(os.path.dirname(sys.executable), "plivo-sandbox"), "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[-1]
        idle = peak_rss_mb(process.pid)
        one_file = [("huge.png", 60 * MB)]
        thirty_files = [(f"f{n}.png", 2 * MB) for n in range(30)]
        results: list[tuple[int, str]] = []

        def run(parts: list[tuple[str, int]], chunked: bool) -> None:
            results.append(upload_streamed(url, parts, chunked=chunked))

        threads = [
            threading.Thread(target=run, args=(parts, chunked))
            for parts in (one_file, thirty_files)
            for chunked in (False, True)
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        peak = peak_rss_mb(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)

    print(f"plivo-sandbox peak RSS (VmHWM): {idle:.0f} MiB idle, {peak:.0f} MiB after 8 x 60 MB uploads")
    assert sorted(results) == sorted(
        [(400, f"huge.png: {60 * MB} bytes exceeds the 2000000 byte limit")] * 4
        + [(400, "too many files: 30; at most 10 per request")] * 4
    )
    assert peak < 300


def test_a_file_over_the_limit_is_refused_by_its_size_as_before(sandbox):
    form, content_type = encode_multipart_formdata(
        [
            ("file", ("ok.png", b"x" * 2_000_000, "image/png")),
            ("file", ("big.png", b"x" * 2_000_001, "image/png")),
        ]
    )

    status, answer = exchange(sandbox, post_form(form, content_type))

    assert (status, plivo_error(answer)) == (400, "big.png: 2000001 bytes exceeds the 2000000 byte limit")
