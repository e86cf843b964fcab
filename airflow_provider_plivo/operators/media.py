"""PlivoMediaUploadOperator: upload a batch of files to Plivo and hand their media IDs on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from airflow.sdk import BaseOperator

from airflow_provider_plivo._airflow.base import PlivoTask
from airflow_provider_plivo._airflow.fail_fast import fail_fast
from airflow_provider_plivo._airflow.templating import media_entries
from airflow_provider_plivo._airflow.upload_ledger import TaskStateUploadLedger
from airflow_provider_plivo.hooks.plivo import DEFAULT_MAX_CONCURRENCY, PlivoHook
from airflow_provider_plivo.limits import MAX_FILES_PER_UPLOAD, MAX_MEDIA_FILE_SIZE
from airflow_provider_plivo.media.sources import MediaFile, expand_media_entries
from airflow_provider_plivo.version_compat import task_state_store

if TYPE_CHECKING:
    import os
    from collections.abc import Sequence

    from airflow.sdk import Context

    from airflow_provider_plivo.records import MediaRecord

__all__ = ["PlivoMediaUploadOperator"]


class PlivoMediaUploadOperator(PlivoTask, BaseOperator):
    """
    Upload files to Plivo's Media API and return their media IDs, in input order.

    Every file is checked before anything is sent (exists, regular, not empty, at most
    ``max_file_size`` bytes, a type Plivo MMS accepts); one error names every bad file.
    An empty batch uploads nothing and returns ``[]``. The IDs are the ``return_value``
    XCom; the full records (``file``, ``media_id``, ``media_url``, ``content_type``,
    ``size``, ``upload_time``) are pushed under the XCom key ``media``.

    On Airflow 3.3+ the upload is recorded in the task state store (which files are about to go
    before each wave, and every uploaded chunk, in a few coalesced writes that never hold a
    request back), so a later try of the same task instance uploads only what is still missing
    (records are kept 5 hours, an hour under Plivo's expiry). After a try killed mid-upload,
    the files it was sending are looked up in Plivo's media list and reused where found; those
    it cannot prove stored are uploaded again (a duplicate costs nothing and expires). Older
    Airflow versions upload the whole batch again.
    Plivo deletes media no message used after 6 hours: send within that window.

    :param files: (templated) a list of files, or one. Each may be a local path, a glob pattern
        (its matches, sorted; one matching nothing adds nothing), a ``file://`` URI, an object
        storage URI (``s3://``, ``gs://``...) or an :class:`~airflow.sdk.ObjectStoragePath`;
        remote files are streamed, never copied to local disk. A list that templating rendered as
        a string (``"['a.jpg', 'b.png']"``) is read back as that list.
    :param plivo_conn_id: the ``plivo`` connection.
    :param chunk_size: files per upload request, 1 to 10.
    :param max_file_size: largest file accepted, in bytes (Plivo's "2 MB", read as 2,000,000).
    :param max_concurrency: the most upload requests in flight at once (default 100, Plivo's
        limit per account; the hook starts at 32 and grows while Plivo answers cleanly).
    :param hook_params: further :class:`~airflow_provider_plivo.hooks.plivo.PlivoHook`
        arguments, e.g. ``{"retry_attempts": 8}``; checked when the DAG is parsed.
    """

    template_fields: Sequence[str] = ("files", "plivo_conn_id")
    template_fields_renderers: ClassVar[dict[str, str]] = {"files": "json"}
    # No template_ext: .txt and .csv are MMS media types, so a file named in ``files`` must be
    # uploaded as it is, never read and rendered as a template.
    template_ext: Sequence[str] = ()
    ui_color = "#e6f4ea"

    def __init__(
        self,
        *,
        files: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        plivo_conn_id: str = PlivoHook.default_conn_name,
        chunk_size: int = MAX_FILES_PER_UPLOAD,
        max_file_size: int = MAX_MEDIA_FILE_SIZE,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        hook_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.files = files
        self.chunk_size = chunk_size
        self.max_file_size = max_file_size
        self.max_concurrency = max_concurrency
        self._use_plivo(plivo_conn_id, {**self._own_settings(), **(hook_params or {})})
        self.hook_params = hook_params or {}
        self._uploaded: tuple[list[MediaFile], list[MediaRecord]] = ([], [])

    def _own_settings(self) -> dict[str, Any]:
        return {
            "chunk_size": self.chunk_size,
            "max_file_size": self.max_file_size,
            "max_concurrency": self.max_concurrency,
        }

    def _hook_arguments(self) -> dict[str, Any]:
        # hook_params may set the same settings (the README shows chunk_size there): they win.
        return {**self._own_settings(), **self.hook_params}

    def execute(self, context: Context) -> list[str]:
        with fail_fast():
            files = expand_media_entries(
                media_entries(self.files),
                on_empty_glob=lambda pattern: self.log.info("No file matches %s", pattern),
            )
        self._uploaded = (files, [])
        if not files:
            self.log.info("No media files in this batch; nothing to upload")
            return []
        store = task_state_store(context)
        with fail_fast():
            if store is None:
                self.log.info(
                    "Airflow before 3.3 has no task state store: a retry uploads the whole batch again"
                )
                records = self.hook.upload_media(files)
            else:
                records = self.hook.upload_media(files, ledger=TaskStateUploadLedger(store, files))
        self._uploaded = (files, records)
        if self.do_xcom_push:
            context["ti"].xcom_push(key="media", value=records)
        return [record["media_id"] for record in records]

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Lineage for the OpenLineage provider, when installed: the files read are the inputs
        (each once, however many entries named it), the Plivo media created are the outputs."""
        from airflow.providers.openlineage.extractors import OperatorLineage
        from openlineage.client.event_v2 import Dataset

        files, records = self._uploaded
        plivo = urlsplit(self.hook.base_url).netloc
        return OperatorLineage(
            inputs=[
                Dataset(namespace=namespace, name=name)
                for namespace, name in dict.fromkeys(file.dataset() for file in files)
            ],
            outputs=[
                Dataset(namespace=f"plivo://{plivo}", name=f"{self.hook.auth_id}/Media/{media_id}")
                for media_id in dict.fromkeys(record["media_id"] for record in records)
            ],
        )
