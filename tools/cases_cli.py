"""Staff command line for hand-off cases: list, show, export, close, stats, retry, dead,
health.

Usage: ``python -m tools.cases_cli COMMAND ...`` (same CASES_DATABASE_URL as the bot).
Messages are bilingual (Indonesian / English) because staff at the provincial office use it.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from teman.cases import CASE_STATUSES
from teman.cases.config import ConfigError
from teman.cases.models import utcnow
from teman.cases.store import CaseNotFoundError, CaseStore, CaseView
from teman.cases.targets import DeliveryConfig, target_kind

STATUS_CHOICES = [*CASE_STATUSES, "all"]
EXPORT_COLUMNS = [
    "reference",
    "created_at",
    "status",
    "category",
    "channel",
    "consent",
    "victim",
    "location",
    "contact",
    "excerpt",
    "sender_hash",
    "closed_at",
    "staff_note",
    "delivery_status",
    "delivered_at",
    "attempts",
    "last_error",
]
# Cells starting with these are treated as formulas by Excel/LibreOffice; user text must not be.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _fmt_time(value: datetime | None) -> str:
    """Compact UTC timestamp for tables and CSV."""
    return value.strftime("%Y-%m-%d %H:%M:%SZ") if value else ""


def _safe_cell(value: object) -> str:
    """Stringify for CSV and neutralize spreadsheet formula injection in user text."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return _fmt_time(value)
    text = str(value)
    if text.startswith(_FORMULA_PREFIXES):
        return "'" + text
    return text


def _print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Plain fixed-width table (no extra dependency, copy-paste friendly)."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line.rstrip())
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def delivery_summary(case: CaseView) -> str:
    """One word for one target, else ``kind:status`` per target (e.g. ``webhook:delivered
    whatsapp:dead``)."""
    if len(case.deliveries) <= 1:
        return case.delivery_status
    return " ".join(f"{target_kind(d.target)}:{d.status}" for d in case.deliveries)


def cmd_list(store: CaseStore, args: argparse.Namespace) -> int:
    """Show a table of cases, newest first."""
    cases = store.list_cases(status=args.status, limit=args.limit)
    if not cases:
        print("Tidak ada kasus / no cases.")
        return 0
    rows = [
        [
            c.reference,
            _fmt_time(c.created_at),
            c.status,
            c.category,
            c.channel,
            (c.location or "")[:30],
            delivery_summary(c),
        ]
        for c in cases
    ]
    _print_table(
        ["REFERENCE", "CREATED (UTC)", "STATUS", "CATEGORY", "CHANNEL", "LOCATION", "DELIVERY"],
        rows,
    )
    print(f"\n{len(cases)} kasus / case(s)")
    dead = store.dead_letters()
    if dead:
        print(f"PERHATIAN: {len(dead)} pengiriman gagal total (dead) — lihat `dead`")
    return 0


def _show_lines(case: CaseView) -> list[tuple[str, str]]:
    """Label/value pairs for ``show``."""
    return [
        ("reference", case.reference),
        ("created_at", _fmt_time(case.created_at)),
        ("status", case.status),
        ("category", case.category),
        ("channel", case.channel),
        ("consent", "yes" if case.consent else "no"),
        ("victim", case.victim or "-"),
        ("location", case.location or "-"),
        ("contact", case.contact or "-"),
        ("excerpt", case.excerpt or "-"),
        ("sender_hash", case.sender_hash or "-"),
        ("closed_at", _fmt_time(case.closed_at) or "-"),
        ("staff_note", case.staff_note or "-"),
        ("delivery", case.delivery_status),
        ("attempts", "-" if case.attempts is None else str(case.attempts)),
        ("delivered_at", _fmt_time(case.delivered_at) or "-"),
        (
            "next_attempt_at",
            _fmt_time(case.next_attempt_at) if case.delivery_status == "pending" else "-",
        ),
        ("last_error", case.last_error or "-"),
        ("dead_at", _fmt_time(case.dead_at) or "-"),
    ]


def _delivery_lines(case: CaseView) -> list[str]:
    """One line per target for ``show`` (only when there is more than one)."""
    return [
        f"  {d.target:<40}{d.status:<10}attempts {d.attempts}"
        + (f"  delivered {_fmt_time(d.delivered_at)}" if d.delivered_at else "")
        + (f"  dead {_fmt_time(d.dead_at)}" if d.dead_at else "")
        + (f"  error {d.last_error}" if d.last_error and not d.delivered_at else "")
        for d in case.deliveries
    ]


def cmd_show(store: CaseStore, args: argparse.Namespace) -> int:
    """Print every field of one case plus its delivery state."""
    case = store.get_case(args.reference)
    for label, value in _show_lines(case):
        print(f"{label:<16}{value}")
    if len(case.deliveries) > 1:
        print("deliveries / pengiriman:")
        print("\n".join(_delivery_lines(case)))
    return 0


def cmd_export(store: CaseStore, args: argparse.Namespace) -> int:
    """Write cases to a UTF-8 CSV (with BOM so Excel shows Indonesian text correctly)."""
    cases = store.list_cases(status=args.status)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.writer(fh)
        writer.writerow(EXPORT_COLUMNS)
        for case in cases:
            writer.writerow([_safe_cell(getattr(case, col)) for col in EXPORT_COLUMNS])
    print(f"{len(cases)} kasus diekspor ke / case(s) exported to {out}")
    return 0


def cmd_close(store: CaseStore, args: argparse.Namespace) -> int:
    """Close a case, optionally with a staff note."""
    case = store.close_case(args.reference, note=args.note)
    print(f"{case.reference} ditutup / closed at {_fmt_time(case.closed_at)}")
    return 0


def cmd_retry(store: CaseStore, args: argparse.Namespace) -> int:
    """Queue an undelivered (e.g. dead) case for delivery again."""
    case = store.requeue(args.reference)
    print(f"{case.reference}: delivery {case.delivery_status}")
    return 0


def cmd_stats(store: CaseStore, args: argparse.Namespace) -> int:
    """Counts per category (rows) and status (columns)."""
    counts = store.stats()
    categories = sorted({cat for cat, _ in counts})
    headers = ["CATEGORY", *CASE_STATUSES, "total"]
    rows: list[list[str]] = []
    for cat in categories:
        per = [counts.get((cat, st), 0) for st in CASE_STATUSES]
        rows.append([cat, *map(str, per), str(sum(per))])
    totals = [sum(counts.get((cat, st), 0) for cat in categories) for st in CASE_STATUSES]
    rows.append(["total", *map(str, totals), str(sum(totals))])
    _print_table(headers, rows)
    return 0


def cmd_dead(store: CaseStore, args: argparse.Namespace) -> int:
    """Dead-lettered deliveries: staff pass these to SI-SAGA by phone, or retry them."""
    dead = store.dead_letters()
    if not dead:
        print("Tidak ada pengiriman yang gagal total / no dead letters.")
        return 0
    rows = [
        [d.reference, _fmt_time(d.dead_at), d.target, str(d.attempts), d.last_error or ""]
        for d in dead
    ]
    _print_table(["REFERENCE", "DEAD (UTC)", "TARGET", "ATTEMPTS", "LAST ERROR"], rows)
    print(
        f"\n{len(dead)} pengiriman gagal. Sampaikan lewat telepon ke SI-SAGA 08113910910, "
        "lalu `close REF`, atau perbaiki lalu `retry REF`."
    )
    return 0


def cmd_health(store: CaseStore, args: argparse.Namespace) -> int:
    """Is the forwarder alive, what waits, what failed, which alerts went out.

    Exit code 1 when staff must act (forwarder stopped, dead letters or unsent alerts), so a
    monitoring job can run it.
    """
    delivery = DeliveryConfig.load()
    last = store.last_beat()
    stale = last is None or (utcnow() - last).total_seconds() > delivery.stale_after
    if last is None:
        print("Forwarder       : belum pernah berjalan / never ran")
    else:
        state = "BERHENTI / STOPPED" if stale else "berjalan / running"
        print(f"Forwarder       : {state} (terakhir / last seen {_fmt_time(last)})")
    kinds = [k for k in ("webhook", "whatsapp", "email") if delivery.configured(k)]
    print(f"Kanal aktif     : {', '.join(kinds) or 'TIDAK ADA / none'}")
    print(f"Menunggu kirim  : {store.pending_count()}")
    dead = store.dead_letters()
    print(f"Gagal total     : {len(dead)}")
    unsent = store.alerts(unsent_only=True)
    print(f"Peringatan      : {len(store.alerts())} (belum terkirim / unsent: {len(unsent)})")
    print(f"Penerima alarm  : {', '.join(delivery.alert_to) or 'TIDAK DIATUR / not set'}")
    for alert in unsent:
        print(f"  - {alert.kind} {alert.subject}: {alert.last_error or 'menunggu / queued'}")
    pending_old = store.oldest_pending()
    needs_action = bool(dead or unsent) or (stale and pending_old is not None)
    return 1 if needs_action else 0


def _positive_int(value: str) -> int:
    """argparse type for --limit."""
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return number


def build_parser() -> argparse.ArgumentParser:
    """Argument parser; kept separate so tests and docs can introspect it."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.cases_cli",
        description="Kasus rujukan SI-SAGA / SI-SAGA hand-off cases",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="daftar kasus / list cases")
    p.add_argument("--status", choices=STATUS_CHOICES, default="open")
    p.add_argument("--limit", type=_positive_int, default=50)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", help="detail satu kasus / show one case")
    p.add_argument("reference")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("export", help="ekspor CSV / export CSV")
    p.add_argument("--out", required=True, help="CSV file to write")
    p.add_argument("--status", choices=STATUS_CHOICES, default="all")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("close", help="tutup kasus / close a case")
    p.add_argument("reference")
    p.add_argument("--note", default=None, help="catatan staf / staff note")
    p.set_defaults(func=cmd_close)

    p = sub.add_parser("stats", help="statistik / counts by category and status")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("retry", help="kirim ulang / re-queue an undelivered case")
    p.add_argument("reference")
    p.set_defaults(func=cmd_retry)

    p = sub.add_parser("dead", help="pengiriman gagal total / dead-lettered deliveries")
    p.set_defaults(func=cmd_dead)

    p = sub.add_parser("health", help="status forwarder & peringatan / forwarder and alerts")
    p.set_defaults(func=cmd_health)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; 0 = ok, 1 = not found / refused / database error, 2 = bad usage."""
    args = build_parser().parse_args(argv)
    try:
        store = CaseStore.from_env()
    except ConfigError as exc:
        print(f"Konfigurasi salah / configuration error: {exc}", file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:
        print(
            f"Database tidak bisa dibuka / cannot open database: {type(exc).__name__}",
            file=sys.stderr,
        )
        return 1
    try:
        return int(args.func(store, args))
    except CaseNotFoundError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(f"Kesalahan database / database error: {type(exc).__name__}", file=sys.stderr)
        return 1
    finally:
        store.dispose()


if __name__ == "__main__":
    sys.exit(main())
