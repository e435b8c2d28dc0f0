"""The renderer: docs/benchmarks.md sections from scenario results (bench/results/*.json).
Each section is replaced in place; the others are kept as they are."""

from __future__ import annotations

import importlib
from pathlib import Path

from bench.harness.proc import ROOT
from bench.render.common import MARKERS

DOC = ROOT / "docs" / "benchmarks.md"
ORDER = ["staff", *MARKERS]


def sections(text: str) -> dict[str, str]:
    """name -> text of each section present (the staff section: everything before the first marker)."""
    starts = sorted((text.find(m), name) for name, m in MARKERS.items() if text.find(m) >= 0)
    bounds = [(0, "staff"), *starts, (len(text), "")]
    return {name: text[a:b].strip("\n") for (a, name), (b, _next) in zip(bounds, bounds[1:], strict=False)}


def write_section(name: str, result: dict) -> Path:
    text = importlib.import_module(f"bench.render.{name}").render(result)
    parts = sections(DOC.read_text() if DOC.exists() else "")
    parts[name] = text.strip("\n")
    DOC.write_text("\n\n".join(parts[n] for n in ORDER if parts.get(n)) + "\n")
    return DOC
