"""CSV exports whose cells are safe to open in a spreadsheet.

Every export in the codebase writes through this module. A text cell that a spreadsheet would
run as a formula (it starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is
written with a leading apostrophe, so ``=HYPERLINK(...)`` in a member's name stays text. Numbers
the code computed itself (``int``, ``Decimal``, or a ``Number`` such as ``fen_cell`` returns)
are written as they are, so a refund of -12.34 still adds up in a spreadsheet.

Files are UTF-8 with a byte-order mark: Excel and WPS then read Chinese right.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from django.http import HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header

from retail.money import fen_to_yuan

BOM = "\ufeff"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class Number(str):
    """A cell holding a number the code formatted itself (never user input): written as is."""


def fen_cell(amount: int) -> Number:
    """Integer fen as a yuan cell: -1234 -> "-12.34"."""
    return Number(fen_to_yuan(int(amount)))


def safe_cell(value: Any) -> str:
    """The text of one cell; text a spreadsheet would run as a formula is quoted as text."""
    if value is None:
        return ""
    if isinstance(value, Number | int | Decimal):
        return str(value)
    text = str(value)
    return "'" + text if text[:1] in FORMULA_PREFIXES else text


class SafeWriter:
    """``csv.writer`` that passes every cell through ``safe_cell``."""

    def __init__(self, fh: Any, **fmtparams: Any):
        self._writer = csv.writer(fh, **fmtparams)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([safe_cell(c) for c in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(fh: Any, **fmtparams: Any) -> SafeWriter:
    """A safe CSV writer on an open text file."""
    return SafeWriter(fh, **fmtparams)


def csv_bytes(rows: Iterable[Iterable[Any]]) -> bytes:
    """Rows as the bytes of a CSV file (UTF-8 with a BOM), for files written by jobs."""
    out = io.StringIO()
    out.write(BOM)
    writer(out).writerows(rows)
    return out.getvalue().encode("utf-8")


class _Echo:
    def write(self, value: str) -> str:
        return value


def _download_headers(response: HttpResponse | StreamingHttpResponse, filename: str) -> None:
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["X-Content-Type-Options"] = "nosniff"


def csv_download(rows: Iterable[Iterable[Any]], filename: str) -> HttpResponse:
    """A small CSV (a template, a one-page report) as a download in one response."""
    response = HttpResponse(csv_bytes(rows), content_type="text/csv; charset=utf-8")
    _download_headers(response, filename)
    return response


def stream_csv(lines: Iterable[Iterable[Any]], filename: str) -> StreamingHttpResponse:
    """Rows as a streamed CSV download, so a long history never sits in memory."""
    row_writer = writer(_Echo())

    def stream() -> Iterator[str]:
        yield BOM
        for line in lines:
            yield row_writer.writerow(line)

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    _download_headers(response, filename)
    return response
