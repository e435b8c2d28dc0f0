"""Transaction records (来往记录) as CSV, streamed so a long history never sits in memory."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from redpackets.selectors import Record


class _Echo:
    def write(self, value: str) -> str:
        return value


def fen_cell(amount: int) -> str:
    """Integer fen as a yuan cell: -1234 -> "-12.34"."""
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    return f"{sign}{amount // 100}.{amount % 100:02d}"


def safe_cell(text: str) -> str:
    """Cells that a spreadsheet would run as a formula are quoted as text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def rows(records: Iterable[Record], tz) -> Iterator[list[str]]:
    yield [
        _("Time"),
        _("Type"),
        _("What"),
        _("Details"),
        _("Amount (¥)"),
        _("Balance after (¥)"),
        _("Transaction"),
    ]
    for r in records:
        yield [
            timezone.localtime(r.at, tz).strftime("%Y-%m-%d %H:%M:%S"),
            r.kind_label,
            safe_cell(r.title),
            safe_cell(r.detail),
            fen_cell(r.amount_fen),
            fen_cell(r.balance_after_fen),
            str(r.transaction_id),
        ]


def stream_csv(lines: Iterable[list[str]], filename: str) -> StreamingHttpResponse:
    """Rows as a streamed CSV download, UTF-8 with a BOM (spreadsheets then read Chinese right)."""
    writer = csv.writer(_Echo())

    def stream() -> Iterator[str]:
        yield "\ufeff"
        for line in lines:
            yield writer.writerow(line)

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def csv_response(records: Iterable[Record], filename: str, tz=None) -> StreamingHttpResponse:
    return stream_csv(rows(records, tz or timezone.get_current_timezone()), filename)
