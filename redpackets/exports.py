"""Transaction records (来往记录) as CSV, streamed so a long history never sits in memory."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from redpackets.selectors import Record
from retail.csv_export import fen_cell, safe_cell, stream_csv

__all__ = ["csv_response", "fen_cell", "rows", "safe_cell", "stream_csv"]


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


def csv_response(records: Iterable[Record], filename: str, tz=None) -> StreamingHttpResponse:
    return stream_csv(rows(records, tz or timezone.get_current_timezone()), filename)
