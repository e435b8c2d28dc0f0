"""Pagination: the API's page class and the page/number readers every list shares.

Its own module: DRF reads it while importing its generic views. Query-string numbers are read
here so that no list turns ``?page=9223372036854775808`` (or ``-1``, ``1e309``, ``abc``) into an
offset the database cannot represent.
"""

from __future__ import annotations

from rest_framework.pagination import PageNumberPagination

# Larger page numbers are not a real page of anything; they are answered as an empty page.
MAX_PAGE = 100_000
# The largest id or count a query string may name (PostgreSQL bigint).
MAX_INT = 2**63 - 1


def positive_int(raw, *, maximum: int = MAX_INT) -> int | None:
    """A whole number 1..maximum from a query string, or None (missing, not a number, out of range)."""
    raw = str(raw or "").strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        return None
    value = int(raw)
    return value if 0 < value <= maximum else None


def page_number(raw, *, maximum: int = MAX_PAGE) -> int:
    """A 1-based page number: 1 when missing or not a number, at most ``maximum``."""
    raw = str(raw or "").strip()
    if not raw.isascii() or not raw.isdigit():
        return 1
    if len(raw) > len(str(maximum)):
        return maximum
    return min(max(int(raw), 1), maximum)


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
