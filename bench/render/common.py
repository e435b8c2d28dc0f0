"""What the section renderers share: the markers that start each section, cell formats."""

from __future__ import annotations

# docs/benchmarks.md: the staff section comes first (no marker); every other section starts at
# its marker and runs to the next one (or the end).
MARKERS = {
    "members": "<!-- membership section: python -m bench members -->",
    "cloudstore": "<!-- cloud store section: python -m bench cloudstore -->",
    "redpackets": "<!-- red packet section: python -m bench redpackets -->",
    "commission": "<!-- commission section: python -m bench commission -->",
    "partner": "<!-- partner platform section: python -m bench partner -->",
    "devices": "<!-- devices section: python -m bench devices -->",
    "body_limit": "<!-- request body limit section: python -m bench body_limit -->",
    "faces": "<!-- faces section: python -m bench faces -->",
    "attendance": "<!-- attendance section: python -m bench attendance -->",
    "messaging_mass": "<!-- mass messages section: python -m bench messaging_mass -->",
    "messaging": "<!-- messaging section: python -m bench messaging -->",
}


def yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def split_text(split) -> str:
    return "+".join(str(n) for n in split) if split else "?"


def machine_lines(m: dict) -> list[str]:
    """The date, code, machine and software lines that head a scenario's section."""
    return [
        f"- **Date:** {m['date']}",
        f"- **Code:** {m.get('code', 'unknown')}",
        f"- **Machine:** {m['nproc']} CPUs ({m['cpu']}), {m['os']}, kernel {m['kernel']}",
        f"- **Software:** Python {m['python']}, Django {m['django']}, uvicorn {m['uvicorn']}, "
        f"PostgreSQL {m['postgresql']},",
        f"  Redis {m['redis']}, {m['wrk']}",
    ]
