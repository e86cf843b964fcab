"""The ``multipart/form-data`` body of one upload, streamed from its files, each opened as its
part goes out."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_plivo.media.rules import media_content_type
from airflow_provider_plivo.transport.core import UPLOAD_BLOCK_SIZE

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from airflow_provider_plivo.media.sources import MediaFile, MediaStream

__all__ = ["MediaBody"]


class MediaBody:
    """The ``multipart/form-data`` body of one upload: a ``file`` part per media file, streamed.

    requests sends an iterable that has a length with that Content-Length, and each file is read
    only as its part goes out, in blocks of the connection's send size. Part headers come from
    urllib3 (the quoting of file names browsers use); the framing here costs a small upload a
    tenth of what a general-purpose encoder does, and small uploads are bound by the client's CPU.

    A file is opened when its part starts and closed when it ends: the body is iterated only
    once the request holds its place with the limiter and its connection, so an upload waiting
    for room holds no descriptor, and one in flight holds one. Its length is the validated size
    (:meth:`MediaFile.info`); the stream fails a file that no longer has it. :meth:`close` closes
    a file a failed request left open.
    """

    def __init__(self, files: Sequence[MediaFile]) -> None:
        from urllib3.fields import RequestField
        from urllib3.filepost import choose_boundary

        boundary = choose_boundary()
        self.content_type = f"multipart/form-data; boundary={boundary}"
        self._parts: list[tuple[bytes, MediaFile]] = []
        for file in files:
            field = RequestField(name="file", data=b"", filename=file.name)
            field.make_multipart(content_type=media_content_type(file.name))
            self._parts.append((f"--{boundary}\r\n{field.render_headers()}".encode(), file))
        self._end = f"--{boundary}--\r\n".encode()
        self._length = sum(len(head) + file.info().size + 2 for head, file in self._parts) + len(self._end)
        self._open: MediaStream | None = None

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        block = bytearray()
        for head, file in self._parts:
            block += head
            self._open = stream = file.open()
            try:
                while data := stream.read(UPLOAD_BLOCK_SIZE):
                    block += data
                    if len(block) >= UPLOAD_BLOCK_SIZE:
                        yield bytes(block)
                        block.clear()
            finally:
                self.close()
            block += b"\r\n"
        yield bytes(block + self._end)

    def close(self) -> None:
        """Close the file being sent, if any (the request failed or was answered mid-body)."""
        stream, self._open = self._open, None
        if stream is not None:
            stream.close()
