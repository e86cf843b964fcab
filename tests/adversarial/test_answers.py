"""Hostile answers: media objects in another order than the files sent, or naming files never
sent, and an answer that decodes to hundreds of megabytes (a gzip bomb), from small servers of
our own on loopback."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import textwrap
import threading
import zlib
from contextlib import suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_plivo._airflow.fail_fast import is_permanent
from airflow_provider_plivo.exceptions import PlivoMediaUploadError, PlivoResponseError
from airflow_provider_plivo.hooks.plivo import PlivoHook
from tests.support.canned_plivo import canned_plivo

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def media_object(name: str) -> dict[str, Any]:
    return {"file_name": name, "media_id": f"id-of-{name}", "status": "success", "content_type": "image/jpeg"}


@pytest.fixture
def photos(tmp_path: Path) -> list[str]:
    paths = []
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        (tmp_path / name).write_bytes(name.encode())
        paths.append(str(tmp_path / name))
    return paths


def uploads(served: list[tuple[str, str]]) -> int:
    return sum(method == "POST" for method, _ in served)


def test_objects_answered_in_another_order_are_paired_by_file_name(plivo_env, photos):
    answer = {"objects": [media_object("c.jpg"), media_object("a.jpg"), media_object("b.jpg")]}
    with canned_plivo(plivo_env, lambda method, path: (200, answer)):
        records = PlivoHook().upload_media(photos)

    assert [(os.path.basename(r["file"]), r["media_id"]) for r in records] == [
        ("a.jpg", "id-of-a.jpg"),
        ("b.jpg", "id-of-b.jpg"),
        ("c.jpg", "id-of-c.jpg"),
    ]


@pytest.mark.parametrize(
    ("names", "problem"),
    [
        (["a.jpg", "b.jpg", "d.jpg"], "'d.jpg' was not sent"),
        (["a.jpg", "a.jpg", "b.jpg"], "'a.jpg' is named by more than one object"),
    ],
    ids=["a name not sent", "one name twice"],
)
def test_objects_that_cannot_be_paired_fail_the_chunk_once_naming_its_files(
    plivo_env, photos, names, problem
):
    answer = {"objects": [media_object(name) for name in names]}
    with (
        canned_plivo(plivo_env, lambda method, path: (200, answer)) as served,
        pytest.raises(PlivoMediaUploadError) as raised,
    ):
        PlivoHook().upload_media(photos)

    assert uploads(served) == 1  # no retry can fix a server that mispairs
    assert raised.value.uploaded == []
    assert not raised.value.retryable
    assert is_permanent(raised.value)
    assert set(raised.value.failures) == set(photos)
    reason = raised.value.failures[photos[0]]
    assert "cannot be paired with the files sent" in reason
    assert problem in reason
    assert all(path in reason for path in photos)


def test_files_of_one_name_sent_together_pair_in_order_or_not_at_all(plivo_env, tmp_path):
    paths = []
    for folder in ("day1", "day2"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.jpg").write_bytes(folder.encode())
        paths.append(str(tmp_path / folder / "x.jpg"))
    first, second = media_object("x.jpg"), {**media_object("x.jpg"), "media_id": "second"}
    with canned_plivo(plivo_env, lambda method, path: (200, {"objects": [first, second]})):
        records = PlivoHook().upload_media(paths)
    assert [r["media_id"] for r in records] == ["id-of-x.jpg", "second"]

    mispaired = {"objects": [first, media_object("y.jpg")]}
    with (
        canned_plivo(plivo_env, lambda method, path: (200, mispaired)),
        pytest.raises(PlivoMediaUploadError, match="cannot be paired"),
    ):
        PlivoHook().upload_media(paths)


def gzip_bomb(decoded_mib: int = 300) -> bytes:
    """About 292 KB of gzip that decode to ``decoded_mib`` MiB of zeros, made a MiB at a time."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1024 * 1024)
    return b"".join(packer.compress(zeros) for _ in range(decoded_mib)) + packer.flush()


@pytest.fixture(scope="module")
def bomb_server() -> Iterator[tuple[str, list[str]]]:
    """A loopback "Plivo" that answers every request with a gzip bomb; yields its URL and the
    paths it served."""
    body = gzip_bomb()
    served: list[str] = []

    class Bomb(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with suppress(OSError):  # the client stopped reading, as it should
                self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with ThreadingHTTPServer(("127.0.0.1", 0), Bomb) as server:
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}", served
        finally:
            server.shutdown()


LIMIT = re.escape("answer is larger than 8,388,608 bytes (decoded)")


def test_a_gzip_bomb_is_read_no_further_than_the_limit_by_either_driver(bomb_server, plivo_env):
    url, served = bomb_server
    served.clear()
    plivo_env(url, login="MA1", password="bomb-token")
    hook = PlivoHook()

    with pytest.raises(PlivoResponseError, match=LIMIT) as blocking:
        hook.get_media("m1")

    async def read_async() -> None:
        async with await hook.aget_client() as client:
            await client.call("GET", "Media/m1/")

    with pytest.raises(PlivoResponseError, match=LIMIT) as awaited:
        asyncio.run(read_async())

    assert served == ["/v1/Account/MA1/Media/m1/"] * 2  # not retried: the same answer would come
    assert is_permanent(blocking.value)
    assert is_permanent(awaited.value)


MEASURE = """
    import asyncio, json, resource
    from airflow_provider_plivo.exceptions import PlivoResponseError
    from airflow_provider_plivo.hooks.plivo import PlivoHook

    hook = PlivoHook()
    hook.get_conn()

    async def read_async():
        async with await hook.aget_client() as client:
            await client.call("GET", "Media/m1/")

    def peak():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    growth = {}
    drivers = {"requests": lambda: hook.get_media("m1"), "httpx": lambda: asyncio.run(read_async())}
    for name, read in drivers.items():
        before = peak()
        try:
            read()
        except PlivoResponseError as err:
            growth[name] = (round(peak() - before, 1), str(err))
    print(json.dumps(growth))
"""


def test_what_a_gzip_bomb_costs_in_memory(bomb_server, plivo_env, capsys):
    """A figure, printed: a fresh process's peak RSS growth while each driver meets the bomb
    (main read the whole body: 430 MiB for 292 KB of gzip)."""
    url, _ = bomb_server
    plivo_env(url, login="MA1", password="bomb-token")
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(MEASURE)],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ),
        check=True,
    )
    growth: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    with capsys.disabled():
        for driver, (mib, _) in growth.items():
            print(f"\n{driver}: peak RSS grew {mib} MiB reading a gzip bomb of 300 MiB")
    assert {driver: bool(re.search(LIMIT, error)) for driver, (_, error) in growth.items()} == {
        "requests": True,
        "httpx": True,
    }
