"""Staff: delete one person's data on request ("lupakan saya").

``make forget ARGS="--phone 0812-3456-7890"`` (WhatsApp/Twilio users; needs the bot's
SENDER_ID_KEY), ``ARGS="--ref SG-7K3Q9"`` (the person behind a case), or
``ARGS="--sender-id ID"`` (demo page / REST). ``--dry-run`` only shows what would go;
``--yes`` skips the question. Deletes the conversations in the tracker store, the cases with
their outbox rows, and the encrypted number map rows; reports what SI-SAGA already received
(that cannot be recalled from here). Output in Indonesian for staff.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from teman.cases.config import ConfigError
from teman.cases.store import CaseNotFoundError, CaseStore
from teman.config import Settings
from teman.privacy.forget import (
    DEFAULT_SENDER_MAP,
    ForgetError,
    ForgetReport,
    forget,
    sender_ids_for_request,
)

app = typer.Typer(add_completion=False, help=__doc__)
console = Console()
errors = Console(stderr=True)


def show(report: ForgetReport) -> None:
    """Print the report for staff."""
    done = "akan dihapus" if report.dry_run else "dihapus"
    title = "UJI COBA (tidak ada yang dihapus)" if report.dry_run else "Data sudah dihapus"
    console.print(f"[bold]{title}[/bold]")
    if not report.found_anything:
        console.print("Tidak ditemukan data untuk permintaan ini (percakapan, laporan, nomor).")
        return
    console.print(f"Percakapan {done}: {len(report.conversations)}"
                  + (f" ({report.events_deleted} baris)" if not report.dry_run else ""))
    console.print(f"Nomor WhatsApp untuk balasan {done}: {report.number_map_rows}")
    if report.cases:
        table = Table("Laporan", "Status", "Sudah diterima", "Dibatalkan (belum terkirim)")
        for case in report.cases:
            table.add_row(
                case.reference,
                case.status,
                ", ".join(t for t, _ in case.delivered) or "-",
                ", ".join(case.cancelled) or "-",
            )
        console.print(f"Laporan {done}: {len(report.cases)}")
        console.print(table)
    else:
        console.print(f"Laporan {done}: 0")
    if report.not_recallable:
        console.print("[bold red]TIDAK BISA DITARIK KEMBALI[/bold red] — sudah diterima SI-SAGA:")
        for reference, target, at in report.not_recallable:
            console.print(f"  • {reference} → {target} ({at})")
        console.print("  Mintalah SI-SAGA menghapus laporan ini di sistem mereka "
                      "(sebutkan nomor laporannya).")
    console.print("Statistik (analitik) hanya berisi jumlah tanpa identitas: tidak ada yang "
                  "perlu dihapus di sana.")


@app.command()
def main(
    phone: str = typer.Option(None, "--phone", help="nomor telepon pengguna"),
    ref: str = typer.Option(None, "--ref", help="nomor laporan, mis. SG-7K3Q9"),
    sender_id: str = typer.Option(None, "--sender-id", help="id percakapan (demo/REST)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="hanya tampilkan, jangan hapus"),
    yes: bool = typer.Option(False, "--yes", "-y", help="jangan tanya lagi"),
) -> None:
    """Hapus data satu orang (percakapan, laporan, antrean kirim) atas permintaannya."""
    if not (phone or ref or sender_id):
        errors.print("Sebutkan --phone NOMOR, --ref SG-XXXXX atau --sender-id ID.")
        raise typer.Exit(2)
    try:
        ids = sender_ids_for_request(os.environ, phone=phone, sender_id=sender_id)
    except ForgetError as exc:
        errors.print(str(exc))
        raise typer.Exit(2) from exc
    if not dry_run and not yes and not typer.confirm(
        "Hapus semua data orang ini? Ini tidak bisa dibatalkan.", default=False
    ):
        console.print("Dibatalkan; tidak ada yang dihapus.")
        raise typer.Exit(1)
    try:
        store = CaseStore.from_env()
    except (ConfigError, SQLAlchemyError) as exc:
        errors.print(f"Database laporan tidak bisa dibuka: {type(exc).__name__}")
        raise typer.Exit(1) from exc
    try:
        report = forget(
            store,
            Settings.load().tracker_store_url,
            sender_ids=ids,
            reference=ref,
            sender_map_path=Path(os.environ.get("SENDER_MAP_PATH") or DEFAULT_SENDER_MAP),
            dry_run=dry_run,
        )
    except CaseNotFoundError as exc:
        errors.print(f"Laporan tidak ditemukan: {exc.reference}")
        raise typer.Exit(1) from exc
    except SQLAlchemyError as exc:
        errors.print(f"Kesalahan database: {type(exc).__name__}; tidak semua data terhapus, "
                     "jalankan lagi.")
        raise typer.Exit(1) from exc
    finally:
        store.dispose()
    show(report)


if __name__ == "__main__":
    sys.exit(app())
