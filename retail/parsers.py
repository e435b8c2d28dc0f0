"""The API's request parsers: JSON and forms, with every string cleaned of control characters.

Their own module: DRF reads them while importing its views. They are the REST_FRAMEWORK
default, so every API view gets them: free text reaches the serializers without terminal
escapes or bidi overrides (retail.text), and JSON too deeply nested to parse is a 400
parse_error rather than a RecursionError. JSON bodies are capped at DATA_UPLOAD_MAX_MEMORY_SIZE
like form fields (413).
"""

from __future__ import annotations

import json
import math
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from retail.text import clean_data, clean_querydict

# Deeper JSON than this is refused before Python's recursion limit is anywhere near.
MAX_JSON_DEPTH = 64


def _depth_exceeds(data: Any, limit: int) -> bool:
    """Whether parsed JSON nests deeper than ``limit`` (iterative: no recursion of its own)."""
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def load_json(raw: bytes | str) -> Any:
    """Parsed and cleaned JSON, or ParseError (malformed, too deep, non-finite numbers)."""
    try:
        data = json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError as exc:
        raise ParseError(_("The JSON is nested too deeply.")) from exc
    except ValueError as exc:
        raise ParseError(_("Malformed JSON.")) from exc
    if _depth_exceeds(data, MAX_JSON_DEPTH):
        raise ParseError(_("The JSON is nested too deeply."))
    return clean_data(data)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number out of range: {text[:40]}")
    return value


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding") or "utf-8"
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            from retail.api_base import PayloadTooLarge  # api_base imports DRF's views, which import this

            raise PayloadTooLarge()
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(_("Malformed JSON.")) from exc
        return load_json(text)


class FormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        return clean_querydict(super().parse(stream, media_type, parser_context))


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        result = super().parse(stream, media_type, parser_context)
        return parsers.DataAndFiles(clean_querydict(result.data), result.files)
