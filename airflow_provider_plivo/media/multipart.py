"""The ``multipart/form-data`` body of one upload, streamed from the open files."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_plivo.media.rules import media_content_type
from airflow_provider_plivo.transport.core import UPLOAD_BLOCK_SIZE

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_plivo.media.sources import MediaStream

__all__ = ["MediaBody"]


class MediaBody:
    """The ``multipart/form-data`` body of one upload: a ``file`` part per media file, streamed.

    requests sends an iterable that has a length with that Content-Length, and each file is read
    only as its part goes out, in blocks of the connection's send size. Part headers come from
    urllib3 (the quoting of file names browsers use); the framing here costs a small upload a
    tenth of what a general-purpose encoder does, and small uploads are bound by the client's CPU.
    """

    def __init__(self, files: list[tuple[str, MediaStream]]) -> None:
        from urllib3.fields import RequestField
        from urllib3.filepost import choose_boundary

        boundary = choose_boundary()
        self.content_type = f"multipart/form-data; boundary={boundary}"
        self._parts: list[tuple[bytes, MediaStream]] = []
        for name, stream in files:
            field = RequestField(name="file", data=b"", filename=name)
            field.make_multipart(content_type=media_content_type(name))
            self._parts.append((f"--{boundary}\r\n{field.render_headers()}".encode(), stream))
        self._end = f"--{boundary}--\r\n".encode()
        self._length = sum(len(head) + stream.len + 2 for head, stream in self._parts) + len(self._end)

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        block = bytearray()
        for head, stream in self._parts:
            block += head
            while data := stream.read(UPLOAD_BLOCK_SIZE):
                block += data
                if len(block) >= UPLOAD_BLOCK_SIZE:
                    yield bytes(block)
                    block.clear()
            block += b"\r\n"
        yield bytes(block + self._end)
