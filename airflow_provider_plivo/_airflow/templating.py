"""Normalising templated arguments, which reach ``execute()`` in whatever shape rendering left."""

from __future__ import annotations

import ast
import os
from collections.abc import Iterable
from typing import Any

from airflow_provider_plivo.media.sources import is_object_storage_path

__all__ = ["media_entries", "rendered_list", "rendered_message", "string_list"]


def string_list(value: Any, *, argument: str) -> list[str]:
    """
    ``value`` as a list of strings: one string (or path) is a list of one, never of characters.

    Strings are kept exactly as given, spaces included: a file may be named ``"a.jpg "``.
    A list that templating rendered as a string, ``"['a', 'b']"``, is read back as that list.
    Anything else says which ``argument`` was wrong and, for lists, at which positions.
    """
    value = rendered_list(value)
    if isinstance(value, str):
        return [value]
    if value is None or not isinstance(value, Iterable) or isinstance(value, (bytes, dict)):
        raise TypeError(
            f"{argument} must be a string or a list of strings, got {type(value).__name__}: {value!r}"
        )
    items = list(value)
    bad = [f"#{i} {item!r}" for i, item in enumerate(items) if not isinstance(item, (str, os.PathLike))]
    if bad:
        raise TypeError(f"{argument} must hold only strings; not strings: {', '.join(bad)}")
    return [os.fspath(item) for item in items]


def rendered_list(value: Any) -> Any:
    """``value`` with a list that templating rendered as a string, ``"['a', 'b']"``, read back
    as that list, and a path as its string; anything else as it is."""
    if not isinstance(value, (str, os.PathLike)):
        return value
    text = os.fspath(value)
    if not (text.startswith("[") and text.endswith("]")):
        return text
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def rendered_message(source: Any) -> dict[str, Any]:
    """The ``send_message`` arguments of a rendered operator or notifier (``source``): its
    templated ``dst``, ``media_ids`` and ``media_urls`` read back as lists where templating made
    them text, an empty ``src`` or ``text`` as None. Their types are the message rules' to judge
    (:func:`~airflow_provider_plivo.messages.rules.field_problems`), with every other field's
    problems in one error."""
    return {
        "src": source.src if source.src != "" else None,
        "dst": rendered_list(source.dst),
        "text": source.text if source.text != "" else None,
        "media_ids": rendered_list(source.media_ids) or None,
        "media_urls": rendered_list(source.media_urls) or None,
        "powerpack_uuid": source.powerpack_uuid,
    }


def media_entries(value: Any) -> list[Any]:
    """A rendered ``files`` argument as a list: ObjectStoragePath objects kept, the rest as strings."""
    if is_object_storage_path(value):
        return [value]
    if isinstance(value, (list, tuple)) and any(is_object_storage_path(item) for item in value):
        return [
            item if is_object_storage_path(item) else string_list(item, argument="files")[0] for item in value
        ]
    return string_list(value, argument="files")
