"""Files on a careful user's worst day: folders the worker may not read, a FIFO swapped in after
validation, a NUL byte among other mistakes, and a hook shared by threads near the descriptor limit.

Where the worker's own rights matter, the check runs in a child process as an unprivileged user
(CI runs as root, who may read anything); where descriptors matter, in a child with a low
``RLIMIT_NOFILE``, against the sandbox in this process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_plivo.exceptions import (
    PlivoMediaFileChangedError,
    PlivoMediaUploadError,
    PlivoMediaValidationError,
)
from airflow_provider_plivo.hooks.plivo import PlivoHook
from airflow_provider_plivo.media.rules import validate_media_files
from airflow_provider_plivo.media.sources import expand_media_entries, media_file
from tests.support.hangs import never_blocked

if TYPE_CHECKING:
    from collections.abc import Callable

NOBODY = 65534


def run_child(script: str, *, user: int | None = None, **env: str) -> dict[str, Any]:
    """Run ``script`` in a fresh interpreter (as ``user`` when given); return the JSON it prints last."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
        user=user,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def as_unprivileged(check: Callable[[], Any]) -> Any:
    """``check()`` as a user who may not read what only root may: in a forked child that drops
    to ``nobody`` (no new interpreter, which that user might not be allowed to run), its result
    sent back as JSON; run here when the suite is not root. Skips where the child cannot drop."""
    if os.geteuid() != 0:
        return check()
    read, write = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads: the child only stats
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            out = {"result": check()}
        except BaseException as err:
            out = {"error": f"{type(err).__name__}: {err}"}
        os.write(write, json.dumps(out).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        out = json.loads(pipe.read() or b"{}")
    os.waitpid(pid, 0)
    if "result" not in out:
        pytest.skip(f"cannot check as an unprivileged user: {out.get('error')}")
    return out["result"]


def problems_of(entries: list[list[str]]) -> list[list[str] | None]:
    problems: list[list[str] | None] = []
    for entry in entries:
        try:
            validate_media_files(expand_media_entries(entry))
            problems.append(None)
        except PlivoMediaValidationError as err:
            problems.append(err.problems)
    return problems


def test_a_glob_over_a_folder_the_worker_cannot_read_fails_naming_the_folder(tmp_path):
    shared = tmp_path / "shared"  # pytest's tmp_path is its owner's alone: open the way in
    secret = shared / "secret"
    (secret / "deeper").mkdir(parents=True)
    (secret / "a.jpg").write_bytes(b"jpeg")
    (secret / "deeper" / "b.jpg").write_bytes(b"jpeg")
    (shared / "open").mkdir()
    (shared / "open" / "c.jpg").write_bytes(b"jpeg")
    opened = [
        path
        for path in (*reversed(shared.parents), shared, shared / "open")
        if path.stat().st_mode & 0o005 != 0o005
    ]
    modes = {path: path.stat().st_mode for path in opened}
    for path in opened:
        path.chmod(path.stat().st_mode | 0o005)
    (shared / "open" / "c.jpg").chmod(0o644)
    secret.chmod(0o700 if os.geteuid() == 0 else 0o000)
    entries = [
        [f"{secret}/*.jpg"],  # the folder the pattern lists
        [f"{shared}/*/*.jpg"],  # a folder a pattern matches on the way
        [f"{secret}/deeper/*.jpg"],  # a folder on the path to it
        [f"{secret}/a.jpg"],  # one file, named: not "no such file"
        [f"{shared}/open/*.jpg"],  # readable: fine
    ]

    try:
        glob_own, glob_above, glob_below, named, readable = as_unprivileged(lambda: problems_of(entries))
    finally:
        secret.chmod(0o700)
        for path, mode in modes.items():
            path.chmod(mode)

    assert glob_own == [f"{secret}/*.jpg: permission denied listing folder {secret}"]
    assert glob_above == [f"{shared}/*/*.jpg: permission denied listing folder {secret}"]
    assert glob_below == [f"{secret}/deeper/*.jpg: permission denied listing folder {secret}/deeper"]
    assert named == [
        f"{secret}/a.jpg: permission denied (the worker may not read it or a folder on its path)"
    ]
    assert readable is None


def test_a_fifo_swapped_in_after_validation_fails_that_file_and_the_rest_uploads(tmp_path, plivo_sandbox):
    good, swapped = tmp_path / "good.jpg", tmp_path / "swapped.jpg"
    good.write_bytes(b"good jpeg")
    swapped.write_bytes(b"a jpeg for now")
    files = [media_file(str(good)), media_file(str(swapped))]
    validate_media_files(files)
    swapped.unlink()
    os.mkfifo(swapped)

    with never_blocked(), pytest.raises(PlivoMediaFileChangedError) as raised:
        files[1].open()
    assert str(raised.value) == f"{swapped}: not a regular file (now a FIFO, after validation)"

    # The files keep what validation found (MediaFile.info): the upload's own check passes, and
    # the FIFO is met when its part is about to be sent.
    with never_blocked(), pytest.raises(PlivoMediaUploadError) as failed:
        PlivoHook().uploader.upload(files)
    assert failed.value.failures == {str(swapped): "not a regular file (now a FIFO, after validation)"}
    assert [m.data for m in plivo_sandbox.media.values()] == [b"good jpeg"]


def test_a_nul_byte_is_named_as_that_items_problem_among_the_others(tmp_path, plivo_sandbox):
    (tmp_path / "ok.jpg").write_bytes(b"jpeg")
    entries = [
        f"{tmp_path}/bad\0name.jpg",
        f"{tmp_path}/gone.jpg",
        f"{tmp_path}/ok.jpg",
        f"{tmp_path}/*\0.png",
    ]

    with pytest.raises(PlivoMediaValidationError) as raised:
        PlivoHook().upload_media(expand_media_entries(entries))

    assert raised.value.problems == [
        f"{entries[0]!r}: the path holds a NUL byte, which no file name can",
        f"{tmp_path}/gone.jpg: no such file",
        f"{entries[3]!r}: the path holds a NUL byte, which no file name can",
    ]
    assert plivo_sandbox.requests == []


SHARED_HOOK = """
    import json, resource, threading
    from airflow_provider_plivo.hooks.plivo import PlivoHook

    resource.setrlimit(resource.RLIMIT_NOFILE, ({limit}, {limit}))
    hook = PlivoHook()
    with open({paths!r}) as batches:
        paths = json.load(batches)
    outcomes = []

    def upload(batch):
        try:
            outcomes.append(len(hook.upload_media(batch)))
        except Exception as err:
            outcomes.append(f"{{type(err).__name__}}: {{err}}"[:300])

    threads = [threading.Thread(target=upload, args=(batch,)) for batch in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({{"outcomes": outcomes}}))
"""


def test_a_hook_shared_by_8_threads_uploads_1600_files_under_a_256_descriptor_limit(
    tmp_path, make_media, plivo_sandbox
):
    batches = [make_media(200, folder=tmp_path / f"batch{n}", size=64) for n in range(8)]

    listed = tmp_path / "batches.json"
    listed.write_text(json.dumps(batches))

    result = run_child(SHARED_HOOK.format(limit=256, paths=str(listed)))

    assert result["outcomes"] == [200] * 8
    assert len(plivo_sandbox.media) == 1_600
