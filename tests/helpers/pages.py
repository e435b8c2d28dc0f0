"""Reading what pages answer: their text, CSV downloads, and the rows a form changed."""

from __future__ import annotations

import csv
import io
import uuid

from retail.tenancy import brand_scope


def text(response) -> str:
    return response.content.decode()


def csv_rows(response) -> list[list[str]]:
    """The rows of a streamed CSV download, which starts with a byte-order mark (for Excel)."""
    body = b"".join(response.streaming_content)
    assert body.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def count(brand, model, **filters) -> int:
    """How many of the brand's ``model`` rows match ``filters``."""
    with brand_scope(brand):
        return model.objects.for_brand(brand).filter(**filters).count()


def key() -> str:
    """A fresh idempotency key, as a page's form carries."""
    return str(uuid.uuid4())
