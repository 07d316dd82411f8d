"""`kb`: the staff command for the knowledge base (`make kb ARGS="…"`, or `kb …` in the
decision service's environment).

  kb validate            check every file (errors stop a build; warnings do not)
  kb build [--full]      publish edits: the running bot answers from them within seconds
  kb ask "pertanyaan"    what the bot would do with a message (working copy of knowledge/)
  kb gaps                what young people asked that the bot could not answer
  kb stale               entries to check again, oldest first
  kb export FILE.csv     the whole knowledge base as one spreadsheet
  kb import FILE.csv     and back (checked first; nothing written on an error)
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Annotated, Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import typer  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import (  # noqa: E402
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table  # noqa: E402

from teman.config import ROOT, Settings  # noqa: E402
from teman.knowledge.validate import ERROR, Issue, validate  # noqa: E402

app = typer.Typer(
    help="Mengelola isi pengetahuan Teman Migrasi (knowledge/).",
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode="rich",
)
console = Console(highlight=False)
err = Console(stderr=True, highlight=False)

STAGE_LABELS = {"fine-tuning": "melatih encoder", "encoding": "membuat vektor"}


def _settings() -> Settings:
    return Settings.load()


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


# ------------------------------------------------------------------ validate


def _issue_table(issues: list[Issue]) -> Table:
    table = Table(show_lines=False, header_style="bold")
    table.add_column("", no_wrap=True)
    table.add_column("Lokasi", style="cyan", no_wrap=True)
    table.add_column("Masalah")
    for issue in issues:
        mark = "[red]✗ galat[/]" if issue.level == ERROR else "[yellow]! peringatan[/]"
        table.add_row(mark, issue.where, issue.message)
    return table


def run_validation(settings: Settings, near_duplicates: bool = True) -> list[Issue]:
    with _progress() as progress:
        task = progress.add_task("memeriksa", total=None)
        issues = validate(
            settings.knowledge_dir,
            near_duplicates=near_duplicates,
            index_dir=settings.index_dir,
            progress=lambda name: progress.update(task, description=f"memeriksa: {name}"),
        )
    return issues


def _report(issues: list[Issue]) -> int:
    errors = sum(i.level == ERROR for i in issues)
    warnings = len(issues) - errors
    if issues:
        console.print(_issue_table(issues))
    if errors:
        console.print(f"[bold red]{errors} galat[/], {warnings} peringatan: perbaiki galat dulu.")
        return 1
    if warnings:
        console.print(f"[bold green]Tidak ada galat[/] ({warnings} peringatan).")
    else:
        console.print("[bold green]Semua baik:[/] tidak ada galat atau peringatan.")
    return 0


@app.command("validate")
def validate_command(
    fast: bool = typer.Option(
        False, "--fast", help="lewati pemeriksaan pertanyaan yang mirip (lebih cepat)"
    ),
) -> None:
    """Periksa semua file: galat (harus diperbaiki) dan peringatan."""
    started = time.perf_counter()
    code = _report(run_validation(_settings(), near_duplicates=not fast))
    console.print(f"[dim]selesai dalam {time.perf_counter() - started:.1f} detik[/]")
    raise typer.Exit(code)


# ------------------------------------------------------------------ build


def _admin(settings: Settings) -> dict[str, str] | None:
    """Where the running bot's decision service takes build requests (admin.json)."""
    if os.environ.get("TEMAN_ADMIN_URL") and os.environ.get("TEMAN_ADMIN_TOKEN"):
        return {"url": os.environ["TEMAN_ADMIN_URL"], "token": os.environ["TEMAN_ADMIN_TOKEN"]}
    run_dir = Path(os.environ.get("TEMAN_RUN_DIR") or ROOT / "var" / "run")
    path = run_dir / "admin.json"
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if data.get("url") and data.get("token") else None


def _post(admin: dict[str, str], body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        admin["url"].rstrip("/") + "/admin/build",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {admin['token']}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        try:
            return error.code, json.loads(error.read())
        except ValueError:
            return error.code, {"error": str(error)}


def _changes_text(changes: dict[str, list[str]] | None) -> str:
    if not changes:
        return ""
    parts = []
    for key, label in (("added", "baru"), ("changed", "diubah"), ("removed", "dihapus")):
        if changes.get(key):
            names = changes[key]
            shown = ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")
            parts.append(f"{len(names)} {label} ({shown})")
    return "; ".join(parts)


def _offline_build(settings: Settings, full: bool) -> dict[str, object]:
    from teman.retrieval.index import build_index

    with _progress() as progress:
        task = progress.add_task("menyiapkan (memuat encoder …)", total=None)

        def update(stage: str, done: int, total: int) -> None:
            progress.update(task, description=STAGE_LABELS.get(stage, stage), completed=done,
                            total=total)

        return build_index(settings, full=full, progress=update)


@app.command("build")
def build_command(
    full: bool = typer.Option(
        False, "--full", help="build penuh: latih ulang encoder (menit; perlu setelah ubah kamus)"
    ),
    offline: bool = typer.Option(False, "--offline", help="jangan pakai bot yang sedang jalan"),
) -> None:
    """Terbitkan perubahan: bot yang sedang jalan langsung menjawab dari isi baru."""
    from teman.retrieval.index import plan, read_manifest

    started = time.perf_counter()
    settings = _settings()
    found = validate(settings.knowledge_dir, near_duplicates=False)
    issues = [i for i in found if i.level == ERROR]
    if issues:
        console.print(_issue_table(issues))
        console.print(f"[bold red]{len(issues)} galat:[/] tidak ada yang diterbitkan. "
                      "Perbaiki dulu (lihat juga `kb validate`).")
        raise typer.Exit(1)
    admin = None if offline else _admin(settings)
    body = {"knowledge_dir": str(settings.knowledge_dir), "index_dir": str(settings.index_dir)}
    needed = "full" if full else plan(settings)
    if admin is not None and needed != "full":
        try:
            with console.status("bot yang sedang jalan membangun indeks …"):
                status, result = _post(admin, body)
        except (urllib.error.URLError, OSError):
            status, result = 0, {}
            console.print("[yellow]Bot tidak menjawab di alamat admin; membangun di sini.[/]")
        if status == 200:
            seconds = time.perf_counter() - started
            if result["status"] == "unchanged":
                console.print(f"[green]Tidak ada perubahan[/]: bot sudah memakai isi terbaru "
                              f"({result['entries']} entri). {seconds:.1f} detik.")
            else:
                manifest = read_manifest(settings) or {}
                changes = _changes_text(manifest.get("changes"))  # type: ignore[arg-type]
                console.print(
                    f"[bold green]Aktif di bot:[/] {result['entries']} entri, "
                    f"{result['encoded']} frasa baru di-encode"
                    + (f"; {changes}" if changes else "")
                    + f". Selesai {seconds:.1f} detik."
                )
            return
        if status == 409 and result.get("error") == "other folders":
            console.print(f"[yellow]Bot yang jalan memakai folder lain[/] "
                          f"({result.get('knowledge_dir')}); membangun di sini saja.")
            admin = None
        elif status == 409:
            needed = "full"
        elif status:
            err.print(f"[red]Bot gagal membangun[/] ({status}): {result.get('error', result)}; "
                      "bot tetap memakai isi lama. Membangun di sini.")
    if admin is None and not offline:
        console.print("[yellow]Tidak ada bot yang berjalan:[/] membangun di sini (lebih lambat: "
                      "memuat encoder sendiri). Bot memakai hasilnya saat dijalankan.")
    if needed == "full":
        console.print("Build penuh: encoder dilatih ulang bila isinya berubah (beberapa menit).")
    result = _offline_build(settings, full=needed == "full")
    seconds = time.perf_counter() - started
    if admin is not None:
        try:
            status, _ = _post(admin, {**body, "load": True})
        except (urllib.error.URLError, OSError):
            status = 0
        if status == 200:
            console.print("[green]Bot yang sedang jalan sudah memuat indeks baru.[/]")
        else:
            console.print("[yellow]Bot yang jalan belum memuat indeks baru[/]: jalankan ulang "
                          "`make run` (perubahan kode/kamus butuh mulai ulang).")
    if not result["built"]:
        console.print(f"[green]Tidak ada perubahan[/] ({result['entries']} entri). "
                      f"{seconds:.1f} detik.")
        return
    changes = _changes_text(result.get("changes"))  # type: ignore[arg-type]
    console.print(
        f"[bold green]Selesai:[/] build {'penuh' if result['kind'] == 'full' else 'sebagian'}, "
        f"{result['entries']} entri, {result['encoded']} frasa di-encode"
        + (", encoder dilatih ulang" if result.get("finetuned_now") else "")
        + (f"; {changes}" if changes else "")
        + f". {seconds:.1f} detik."
    )


# ------------------------------------------------------------------ ask


def _preview_assistant(settings: Settings) -> Any:
    from teman.decision import Assistant
    from teman.retrieval.index import build_index_in_memory, from_built, load_index, plan

    with console.status("memuat encoder dan isi knowledge/ (sekitar 15 detik) …"):
        state = plan(settings)
        if state == "none":
            return Assistant(settings, load_index(settings)), True
        try:
            _, built = build_index_in_memory(settings, force=True, publish=False)
        except AssertionError:
            built = None
        if built is None:
            err.print("Belum ada indeks: jalankan `kb build` dulu.")
            raise typer.Exit(2)
        return Assistant(settings, from_built(built)), False


@app.command("ask")
def ask_command(
    message: Annotated[str, typer.Argument(help="pesan seperti yang diketik pengguna")],
) -> None:
    """Apa yang akan dilakukan bot dengan pesan ini (memakai isi knowledge/ saat ini)."""
    from teman.decision import ANSWER, ASK, CLARIFY, EMPTY, OUT_OF_SCOPE, PLACE, REPORT

    settings = _settings()
    assistant, published = _preview_assistant(settings)
    if not published:
        console.print("[dim]Memakai isi knowledge/ yang belum diterbitkan (kb build).[/]")
    decision = assistant.decide(message)
    risk = decision.risk
    norm = assistant.read(message)
    console.print(f"Dibaca sebagai: [italic]{norm.text if norm else '(perintah, diabaikan)'}[/]")
    if risk is not None and risk.is_risk:
        console.print(f"[bold red]Risiko:[/] {risk.category} → bot memberi nomor SI-SAGA dan "
                      "menawarkan meneruskan laporan.")
    elif risk is not None and risk.concern:
        console.print("[yellow]Ada tanda bahaya tanpa korban yang jelas:[/] bot menambahkan "
                      "nomor SI-SAGA di bawah jawaban.")
    else:
        console.print("Risiko: [green]tidak ada[/]")
    if decision.intent == REPORT:
        pass
    elif decision.intent == ASK and decision.kind == ANSWER and decision.entry is not None:
        console.print(f"[bold green]Menjawab[/] dengan entri [bold]{decision.entry.id}[/] "
                      f"(\"{decision.entry.title}\"), skor {decision.score:.3f}")
    elif decision.intent == ASK and decision.kind == CLARIFY:
        titles = ", ".join(f"{e.id}" for e in decision.suggestions)
        console.print(f"[bold yellow]Bertanya balik[/] (skor {decision.score:.3f}), pilihan: "
                      f"{titles}")
    elif decision.intent == ASK and decision.kind == PLACE and decision.place is not None:
        office = decision.office.name if decision.office else "?"
        console.print(f"[bold green]Menjawab tempat:[/] {decision.place.name} → {office}")
    elif decision.intent == ASK and decision.kind == EMPTY:
        console.print("Pesan kosong: bot meminta pengguna menulis pertanyaannya.")
    elif decision.intent == OUT_OF_SCOPE:
        console.print(f"[bold red]Menolak dengan sopan[/] (di luar topik atau tidak ada entri "
                      f"yang cocok; skor {decision.score:.3f}).")
    else:
        console.print(f"Obrolan ringan: [bold]{decision.intent}[/] (skor {decision.score:.3f})")
    if decision.hits:
        table = Table(title="Kandidat teratas", header_style="bold")
        for column in ("entri", "skor", "makna", "huruf", "kata"):
            table.add_column(column, justify="left" if column == "entri" else "right")
        for hit in decision.hits[:5]:
            table.add_row(hit.entry.id, f"{hit.score:.3f}", f"{hit.dense:.3f}",
                          f"{hit.char:.3f}", f"{hit.word:.3f}")
        console.print(table)
    console.print(
        f"[dim]batas menjawab {settings.answer_threshold}, batas bertanya balik "
        f"{settings.clarify_threshold}[/]"
    )


# ------------------------------------------------------------------ gaps


@app.command("gaps")
def gaps_command(
    days: int = typer.Option(30, help="percakapan berapa hari terakhir"),
    limit: int = typer.Option(30, help="jumlah kelompok yang ditampilkan"),
    url: str = typer.Option("", help="alamat database percakapan (bawaan: pengaturan bot)"),
) -> None:
    """Pertanyaan nyata yang belum bisa dijawab bot, dikelompokkan, paling sering dulu."""
    from teman.knowledge.gaps import group_gaps, read_gaps

    settings = _settings()
    since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)
    with console.status("membaca percakapan …"):
        gaps = read_gaps(url or settings.tracker_store_url, settings.answer_threshold, since)
        groups = group_gaps(gaps)
    if not groups:
        console.print(f"Tidak ada pertanyaan yang gagal dijawab dalam {days} hari terakhir.")
        return
    table = Table(title=f"Celah pengetahuan, {days} hari terakhir", header_style="bold",
                  show_lines=True)
    table.add_column("jumlah", justify="right")
    table.add_column("pertanyaan (contoh)")
    table.add_column("hasil")
    table.add_column("pertama", no_wrap=True)
    table.add_column("terakhir", no_wrap=True)
    for group in groups[:limit]:
        examples = "\n".join(group.examples[:3])
        if group.variants > 3:
            examples += f"\n[dim]… {group.variants - 3} variasi lain[/]"
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(group.reasons.items()))
        table.add_row(str(group.count), examples, reasons, group.first.date().isoformat(),
                      group.last.date().isoformat())
    console.print(table)
    console.print(f"{len(gaps)} pesan dalam {len(groups)} kelompok. Tambahkan entri atau "
                  "contoh pertanyaan untuk yang sering muncul, lalu `kb build`.")


# ------------------------------------------------------------------ stale


@app.command("stale")
def stale_command(
    months: int = typer.Option(12, help="entri yang terakhir diperiksa lebih lama dari ini"),
    source_months: int = typer.Option(
        0, help="juga entri yang sumber terbarunya lebih tua dari ini (0 = tidak)"
    ),
) -> None:
    """Entri yang perlu diperiksa ulang, yang paling lama dulu."""
    from teman.knowledge.stale import stale_entries

    rows = stale_entries(_settings().knowledge_dir, months, source_months)
    if not rows:
        console.print(f"Semua entri diperiksa dalam {months} bulan terakhir.")
        return
    table = Table(title="Perlu diperiksa ulang", header_style="bold")
    for column in ("entri", "file", "diperiksa", "sumber terbaru", "alasan"):
        table.add_column(column)
    for row in rows:
        table.add_row(row.id, row.where, row.reviewed or "[red]belum pernah[/]",
                      row.newest_source or "-", row.reason)
    console.print(table)
    console.print(f"{len(rows)} entri. Cek sumbernya; kalau masih benar, ubah `reviewed` ke "
                  "tanggal hari ini lalu `kb build`.")


# ------------------------------------------------------------------ export / import


@app.command("export")
def export_command(file: Annotated[Path, typer.Argument(help="file CSV tujuan")]) -> None:
    """Seluruh isi sebagai satu spreadsheet (satu baris per entri)."""
    from teman.knowledge.sheet import export_csv

    count = export_csv(_settings().knowledge_dir, file)
    console.print(f"[green]{count} entri[/] ditulis ke {file}. Buka dengan Excel/LibreOffice; "
                  "simpan lagi sebagai CSV (UTF-8) sebelum `kb import`.")


@app.command("import")
def import_command(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="file CSV hasil export")
    ],
) -> None:
    """Kembalikan spreadsheet ke knowledge/ (diperiksa dulu; tidak menulis apa pun bila ada
    galat)."""
    from teman.knowledge.sheet import SheetError, plan_import, read_csv, staged_copy, write_plan

    settings = _settings()
    try:
        plan = plan_import(settings.knowledge_dir, read_csv(file))
    except SheetError as error:
        console.print(f"[bold red]Spreadsheet tidak bisa dibaca:[/] {error}. Tidak ada yang "
                      "ditulis.")
        raise typer.Exit(1) from None
    if plan.empty:
        console.print("Tidak ada perubahan: knowledge/ tetap seperti semula.")
        return
    staged = staged_copy(settings.knowledge_dir, plan)
    try:
        issues = validate(staged, near_duplicates=False)
    finally:
        shutil.rmtree(staged.parent, ignore_errors=True)
    errors = [i for i in issues if i.level == ERROR]
    if errors:
        console.print(_issue_table(errors))
        console.print(f"[bold red]{len(errors)} galat:[/] tidak ada yang ditulis. Perbaiki di "
                      "spreadsheet lalu impor lagi.")
        raise typer.Exit(1)
    write_plan(settings.knowledge_dir, plan)
    summary = _changes_text(
        {"added": plan.added, "changed": plan.changed, "removed": plan.removed}
    )
    console.print(f"[bold green]Ditulis:[/] {summary}. Periksa dengan `kb ask`, terbitkan "
                  "dengan `kb build`.")


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
