"""Entries due for a new check (`kb stale`): judged by the date someone last checked the
entry against its sources (`reviewed`), not by the age of a law it cites; optionally also
entries whose newest source is old."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from teman.knowledge.validate import _parse_date, months_before, read_context


@dataclass(frozen=True)
class StaleEntry:
    id: str
    where: str
    reviewed: str
    newest_source: str
    reason: str
    sort_key: dt.date


def stale_entries(
    knowledge_dir: Path, months: int = 12, source_months: int = 0, today: dt.date | None = None
) -> list[StaleEntry]:
    ctx = read_context(knowledge_dir, today)
    cutoff = months_before(ctx.today, months)
    source_cutoff = months_before(ctx.today, source_months) if source_months else None
    out = []
    for entry in ctx.entries:
        if not hasattr(entry.data, "get"):
            continue
        reviewed = _parse_date(entry.data.get("reviewed"))
        dates = [
            (d, str(s.get("date")))
            for s in entry.data.get("sources") or ()
            if hasattr(s, "get") and (d := _parse_date(s.get("date"))) is not None
        ]
        newest, newest_text = max(dates) if dates else (None, "")
        reasons = []
        if reviewed is None:
            reasons.append("belum pernah diperiksa")
        elif reviewed < cutoff:
            reasons.append(f"diperiksa > {months} bulan lalu")
        if source_cutoff is not None and (newest is None or newest < source_cutoff):
            reasons.append(f"sumber terbaru > {source_months} bulan")
        if reasons:
            out.append(
                StaleEntry(
                    id=entry.id,
                    where=f"{entry.file}:{entry.line}",
                    reviewed=reviewed.isoformat() if reviewed else "",
                    newest_source=newest_text,
                    reason="; ".join(reasons),
                    sort_key=reviewed or dt.date.min,
                )
            )
    return sorted(out, key=lambda e: (e.sort_key, e.id))
