"""Free text from outside: control characters and bidirectional overrides removed.

Text that other people see (names, greetings, notes) must not carry terminal escapes (ESC),
other C0/C1 control characters, or bidi controls such as U+202E RIGHT-TO-LEFT OVERRIDE, which
make a name display as something else. ``clean_text`` removes them; the request boundary
(the API's parsers and ``CleanInputMiddleware`` for HTML forms) and the member import apply it
to everything that comes in, so each field does not have to remember.
"""

from __future__ import annotations

import re
from typing import Any

# C0 controls except tab, newline and carriage return; DEL; C1 controls.
_CONTROLS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
# Bidirectional formatting: ALM, LRM, RLM, LRE/RLE/PDF/LRO/RLO, LRI/RLI/FSI/PDI.
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNWANTED = re.compile(f"[{_CONTROLS}{_BIDI}]")
_UNWANTED_SINGLE_LINE = re.compile(f"[{_CONTROLS}{_BIDI}\t\n\r]")
# Fields whose value is a secret compared byte for byte: never altered.
_SECRET_FIELD = re.compile(r"password|secret", re.IGNORECASE)


def has_unwanted(value: str) -> bool:
    """Whether the text holds a control or bidi character that ``clean_text`` would remove."""
    return bool(_UNWANTED.search(value))


def clean_text(value: str, *, multiline: bool = True) -> str:
    """The text without control and bidi characters (tab/newline/CR kept when multi-line;
    on a single line each becomes a space)."""
    if not isinstance(value, str):
        return value
    value = _UNWANTED.sub("", value)
    if not multiline:
        value = _UNWANTED_SINGLE_LINE.sub(" ", value)
    return value


def is_secret_field(name: Any) -> bool:
    """A field such as ``password``/``new_password1`` whose value must reach the code unchanged."""
    return isinstance(name, str) and bool(_SECRET_FIELD.search(name))


def clean_data(data: Any) -> Any:
    """Every string in parsed JSON (dict keys and values, lists, nested) cleaned, secrets kept."""
    if isinstance(data, str):
        return clean_text(data)
    if isinstance(data, dict):
        return {clean_text(k): (v if is_secret_field(k) else clean_data(v)) for k, v in data.items()}
    if isinstance(data, list):
        return [clean_data(v) for v in data]
    return data


def clean_querydict(qd):
    """A copy of a QueryDict with every value cleaned (secret fields kept), or the same object
    when nothing needed cleaning (the common case costs one scan and no copy)."""
    dirty = any(
        isinstance(v, str) and has_unwanted(v)
        for k, values in qd.lists()
        if not is_secret_field(k)
        for v in values
    ) or any(has_unwanted(k) for k in qd)
    if not dirty:
        return qd
    from django.http import QueryDict

    cleaned = QueryDict(mutable=True, encoding=qd.encoding)
    for key, values in qd.lists():
        cleaned.setlist(
            clean_text(key),
            values if is_secret_field(key) else [clean_text(v) if isinstance(v, str) else v for v in values],
        )
    cleaned._mutable = qd._mutable
    return cleaned
