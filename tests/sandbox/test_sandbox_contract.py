"""Contract: the official plivo SDK (4.63.0) drives the sandbox, and the sandbox's bodies match
Plivo's documented examples field by field.

The SDK is Plivo's own reading of its API: whatever it cannot parse or mistakes for an error,
Plivo does not send. The example bodies below are written from Plivo's documentation (see
``/work/shared/plivo-api.md``), not copied from any SDK's recorded fixtures.
"""

from __future__ import annotations

import contextlib
import io
import re
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import plivo
import plivo.exceptions
import plivo.rest.client
import pytest
import requests

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from airflow_provider_plivo.sandbox import PlivoSandbox

SRC = "+14155550100"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
UPLOAD_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"
MESSAGE_TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d"
FORMATS = {
    "api_id": UUID,
    "media_id": UUID,
    "message_uuid": UUID,
    "upload_time": UPLOAD_TIME,
    "message_time": MESSAGE_TIME,
    "message_sent_time": MESSAGE_TIME,
    "message_updated_time": MESSAGE_TIME,
    "from_number": r"\d{8,15}",
    "to_number": r"\d{8,15}",
    "media_url": r"https?://[^/]+/Account/\w+/Media/" + UUID,
    "resource_uri": r"/v1/Account/\w+/Message/" + UUID + "/",
    "next": r"/v1/Account/\w+/(Media|Message)\?offset=\d+&limit=\d+",
    "total_amount": r"\d+\.\d{5}",
    "total_rate": r"\d+\.\d{5}",
    "error_code": r"\d{2,3}",
}
"""How a documented field's value reads; a field absent here is compared by JSON type only."""

MEDIA_OBJECT = {
    "content_type": "image/jpeg",
    "file_name": "a.jpg",
    "media_id": "0b4f8a0c-5b8e-4bcb-9b4c-7e3d1b2f6a10",
    "size": 85277,
    "upload_time": "2021-02-17T07:16:09.153289Z",
    "media_url": "https://media.plivo.com/Account/MAXXXXXXXXXXXXXXXXXX/Media/0b4f8a0c-5b8e-4bcb-9b4c-7e3d1b2f6a10",
}
DOCUMENTED = {
    "upload": {
        "api_id": "7d5d1e2e-8a4b-11eb-9b1e-0242ac110003",
        "objects": [{**MEDIA_OBJECT, "status": "success", "status_code": 201}],
    },
    "get media": {"api_id": "7d5d1e2e-8a4b-11eb-9b1e-0242ac110003", **MEDIA_OBJECT},
    "list media": {
        "api_id": "7d5d1e2e-8a4b-11eb-9b1e-0242ac110003",
        "meta": {
            "limit": 1,
            "offset": 0,
            "next": "/v1/Account/MAXXXXXXXXXXXXXXXXXX/Media?offset=1&limit=1",
            "previous": None,
            "total_count": 2,
        },
        "objects": [MEDIA_OBJECT],
    },
    "send": {
        "api_id": "db342550-7f1d-11e1-8ea7-1231380bc196",
        "message": "message(s) queued",
        "message_uuid": ["db3ce55a-7f1d-11e1-8ea7-1231380bc196"],
        "invalid_number": ["jsgf3dsjh28372"],
    },
    "get message": {
        "api_id": "035eeada-6df1-11e6-b608-06a72a185e87",
        "error_code": "000",
        "error_message": "Success",
        "from_number": "14155550100",
        "message_direction": "outbound",
        "message_sent_time": "2021-07-13 13:04:07.101201+05:30",
        "message_state": "delivered",
        "message_time": "2021-07-13 13:04:06.799021+05:30",
        "message_type": "sms",
        "message_updated_time": "2021-07-13 13:04:09.412872+05:30",
        "message_uuid": "db3ce55a-7f1d-11e1-8ea7-1231380bc196",
        "resource_uri": "/v1/Account/MAXXXXXXXXXXXXXXXXXX/Message/db3ce55a-7f1d-11e1-8ea7-1231380bc196/",
        "to_number": "61491570006",
        "total_amount": "0.00500",
        "total_rate": "0.00500",
        "units": 1,
    },
    "error": {
        "api_id": "df5d4304-66af-11eb-91d8-0242ac110004",
        "error": "19332631167 is not a valid phone number",
    },
    "401": {"error": "Authentication credentials invalid"},
}


@pytest.fixture
def client(plivo_sandbox: PlivoSandbox, monkeypatch: pytest.MonkeyPatch) -> plivo.RestClient:
    """The official SDK pointed at the sandbox (it rebuilds its base URI from this constant)."""
    monkeypatch.setattr(plivo.rest.client, "PLIVO_API_BASE_URI", f"{plivo_sandbox.url}/v1/Account")
    return plivo.RestClient(plivo_sandbox.auth_id, plivo_sandbox.auth_token)


@pytest.fixture
def images(tmp_path: Path) -> Callable[[int], list[str]]:
    def make(count: int) -> list[str]:
        paths = [tmp_path / f"img{i:02d}.png" for i in range(count)]
        for i, path in enumerate(paths):
            path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes([i]) * (i + 1))
        return [str(path) for path in paths]

    return make


def upload(client, paths: list[str]):
    with contextlib.redirect_stdout(io.StringIO()):  # the SDK prints every path it uploads
        return client.media.upload(paths)


def test_the_sdk_uploads_gets_and_lists_media(client, plivo_sandbox, images):
    paths = images(3)

    uploaded = upload(client, paths)

    assert [o.status for o in uploaded.objects] == ["success"] * 3
    media_ids = [o.media_id for o in uploaded.objects]
    assert [plivo_sandbox.media[m].file_name for m in media_ids] == ["img00.png", "img01.png", "img02.png"]
    one = client.media.get(media_ids[1])
    assert (one.file_name, one.size, one.content_type) == ("img01.png", 10, "image/png")
    listed = client.media.list(limit=2, offset=0)
    assert listed.meta.total_count == 3
    assert len(listed.objects) == 2
    assert {o.media_id for o in client.media.list(limit=2, offset=2).objects} <= set(media_ids)


def test_the_sdk_sends_gets_and_lists_messages(client, plivo_sandbox, images):
    media_ids = [o.media_id for o in upload(client, images(2)).objects]

    sent = client.messages.create(
        src=SRC, dst="+14155550101<+14155550102<jsgf3dsjh28372", text="hi", type_="mms", media_ids=media_ids
    )

    assert len(sent.message_uuid) == 2
    assert sent.invalid_number == ["jsgf3dsjh28372"]
    message = client.messages.get(sent.message_uuid[0])
    assert (message.message_state, message.to_number, message.message_type) == (
        "queued",
        "14155550101",
        "mms",
    )
    assert [m.media_id for m in message.listMedia().objects] == media_ids
    plivo_sandbox.advance_clock(timedelta(seconds=2))
    listed = client.messages.list(limit=5, message_state="sent", message_direction="outbound")
    assert [m.message_uuid for m in listed] == sent.message_uuid[::-1]
    assert listed.meta.next is None  # and no total_count, as many recorded message lists


def test_the_sdk_raises_its_authentication_error_on_a_wrong_token(plivo_sandbox, monkeypatch):
    monkeypatch.setattr(plivo.rest.client, "PLIVO_API_BASE_URI", f"{plivo_sandbox.url}/v1/Account")
    wrong = plivo.RestClient(plivo_sandbox.auth_id, "not-the-token")

    with pytest.raises(plivo.exceptions.AuthenticationError, match="Authentication credentials invalid"):
        wrong.media.list()


def test_the_sdk_sees_11_files_refused_with_400(client, plivo_sandbox, images):
    with pytest.raises(plivo.exceptions.ValidationError, match="at most 10"):
        upload(client, images(11))

    assert plivo_sandbox.media == {}


def test_the_sdk_sees_unknown_ids_as_404(client):
    with pytest.raises(plivo.exceptions.ResourceNotFoundError, match="media not found"):
        client.media.get(str(uuid.uuid4()))
    with pytest.raises(plivo.exceptions.ResourceNotFoundError, match="message not found"):
        client.messages.get(str(uuid.uuid4()))


def sandbox_bodies(sandbox: PlivoSandbox) -> dict[str, dict[str, Any]]:
    """One body of each documented kind, as the sandbox answers over HTTP."""
    base = f"{sandbox.url}/v1/Account/{sandbox.auth_id}"
    auth = (sandbox.auth_id, sandbox.auth_token)
    files = [("file", (name, b"\xff\xd8data", "image/jpeg")) for name in ("a.jpg", "b.jpg")]
    uploaded = requests.post(f"{base}/Media/", files=files, auth=auth, timeout=5).json()
    media_id = uploaded["objects"][0]["media_id"]
    sent = requests.post(
        f"{base}/Message/",
        json={"src": SRC, "dst": "61491570006<jsgf3dsjh28372", "text": "hi"},
        auth=auth,
        timeout=5,
    ).json()
    sandbox.advance_clock(timedelta(seconds=2))
    refused = {"src": SRC, "dst": "19332631167", "text": "hi"}
    return {
        "upload": {**uploaded, "objects": uploaded["objects"][:1]},
        "get media": requests.get(f"{base}/Media/{media_id}/", auth=auth, timeout=5).json(),
        "list media": requests.get(f"{base}/Media/", params={"limit": 1}, auth=auth, timeout=5).json(),
        "send": sent,
        "get message": requests.get(
            f"{base}/Message/{sent['message_uuid'][0]}/", auth=auth, timeout=5
        ).json(),
        "error": requests.post(f"{base}/Message/", json=refused, auth=auth, timeout=5).json(),
        "401": requests.get(f"{base}/Media/", auth=(sandbox.auth_id, "wrong"), timeout=5).json(),
    }


def differences(documented, ours, where: str = "") -> list[str]:
    """Every field where ``ours`` differs from ``documented`` in presence, JSON type or format."""
    if isinstance(documented, dict) and isinstance(ours, dict):
        found = [f"{where}.{key}: missing" for key in documented.keys() - ours.keys()]
        found += [f"{where}.{key}: not documented" for key in ours.keys() - documented.keys()]
        for key in documented.keys() & ours.keys():
            found += differences(documented[key], ours[key], f"{where}.{key}")
        return found
    if isinstance(documented, list) and isinstance(ours, list):
        if len(documented) != len(ours):
            return [f"{where}: {len(ours)} items where Plivo's example has {len(documented)}"]
        return [d for pair in zip(documented, ours, strict=True) for d in differences(*pair, where + "[]")]
    if type(documented) is not type(ours):
        return [f"{where}: {type(ours).__name__} where Plivo has {type(documented).__name__}"]
    pattern = FORMATS.get(where.rsplit(".", 1)[-1].removesuffix("[]"))
    if pattern and isinstance(ours, str) and not re.fullmatch(pattern, ours):
        return [f"{where}: {ours!r} does not read like Plivo's {documented!r}"]
    return []


@pytest.mark.parametrize("kind", DOCUMENTED)
def test_the_documented_examples_read_as_their_formats_say(kind):
    """The examples themselves follow the formats that the comparison below holds the sandbox to."""
    assert differences(DOCUMENTED[kind], DOCUMENTED[kind]) == []


def test_sandbox_bodies_match_plivos_documented_examples_field_by_field(plivo_sandbox):
    ours = sandbox_bodies(plivo_sandbox)
    found = {kind: differences(DOCUMENTED[kind], ours[kind]) for kind in DOCUMENTED}

    assert {kind: problems for kind, problems in found.items() if problems} == {}
