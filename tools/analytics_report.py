"""`make report`: an HTML page with charts for staff and funders, from the analytics counts.

``python -m tools.analytics_report [--out var/report/index.html] [--days 90]`` reads the
aggregate table (ANALYTICS_DATABASE_URL, else DATABASE_URL, else var/analytics.sqlite3) and
writes one self-contained page (charts embedded as PNG) in Indonesian: questions per day,
top topics, the unanswered rate, hand-offs per week by category, busy hours, channels.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from teman.analytics.events import LOCAL_TZ  # noqa: E402
from teman.analytics.store import AnalyticsStore, CountRow  # noqa: E402
from teman.cases.config import REPO_ROOT  # noqa: E402
from teman.cases.staff_message import category_label  # noqa: E402
from teman.knowledge.loader import load_entries  # noqa: E402

DEFAULT_OUT = REPO_ROOT / "var" / "report" / "index.html"
UNANSWERED = ("clarify", "empty", "out_of_scope")
ANSWERED = ("answer", "place")
COLOR = "#1f6f8b"


@dataclass
class Summary:
    first_day: str
    last_day: str
    messages: int
    questions: int
    answered: int
    unanswered: int
    reports: int
    handoffs: int
    consents: int
    declines: int
    cases: int

    @property
    def unanswered_rate(self) -> float:
        total = self.answered + self.unanswered
        return self.unanswered / total if total else 0.0


def _png(fig: plt.Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _total(rows: Sequence[CountRow], metric: str, keys: Sequence[str] | None = None) -> int:
    return sum(r.count for r in rows if r.metric == metric and (keys is None or r.key in keys))


def summarize(rows: Sequence[CountRow]) -> Summary:
    days = sorted({r.day for r in rows})
    return Summary(
        first_day=days[0] if days else "-",
        last_day=days[-1] if days else "-",
        messages=_total(rows, "message"),
        questions=_total(rows, "intent", ["ask_question"]),
        answered=_total(rows, "decision", ANSWERED),
        unanswered=_total(rows, "decision", UNANSWERED),
        reports=_total(rows, "risk_report"),
        handoffs=_total(rows, "handoff_offered"),
        consents=_total(rows, "handoff_consent"),
        declines=_total(rows, "handoff_declined"),
        cases=_total(rows, "case_submitted"),
    )


def _days(rows: Sequence[CountRow]) -> list[str]:
    days = sorted({r.day for r in rows})
    if not days:
        return []
    start, end = date.fromisoformat(days[0]), date.fromisoformat(days[-1])
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


def chart_questions_per_day(rows: Sequence[CountRow]) -> str:
    days = _days(rows)
    messages, questions = defaultdict(int), defaultdict(int)
    for r in rows:
        if r.metric == "message":
            messages[r.day] += r.count
        elif r.metric == "intent" and r.key == "ask_question":
            questions[r.day] += r.count
    fig, ax = plt.subplots(figsize=(8, 3.2))
    x = [datetime.fromisoformat(d) for d in days]
    ax.bar(x, [messages[d] for d in days], color="#9cc9d9", label="semua pesan")
    ax.bar(x, [questions[d] for d in days], color=COLOR, label="pertanyaan")
    ax.set_title("Pesan dan pertanyaan per hari")
    ax.set_ylabel("jumlah")
    ax.legend(loc="upper left")
    fig.autofmt_xdate()
    return _png(fig)


def chart_top_topics(rows: Sequence[CountRow], titles: dict[str, str], top: int = 10) -> str:
    counts: dict[str, int] = defaultdict(int)
    for r in rows:
        if r.metric == "topic":
            counts[r.key] += r.count
    best = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top][::-1]
    fig, ax = plt.subplots(figsize=(8, 0.45 * max(len(best), 2) + 1))
    labels = [titles.get(k, k)[:45] for k, _ in best]
    ax.barh(labels, [n for _, n in best], color=COLOR)
    ax.set_title(f"Topik yang paling sering dijawab ({top} teratas)")
    ax.set_xlabel("jumlah jawaban")
    return _png(fig)


def chart_unanswered_rate(rows: Sequence[CountRow]) -> str:
    days = _days(rows)
    answered, unanswered = defaultdict(int), defaultdict(int)
    for r in rows:
        if r.metric == "decision" and r.key in ANSWERED:
            answered[r.day] += r.count
        elif r.metric == "decision" and r.key in UNANSWERED:
            unanswered[r.day] += r.count
    rates = []
    for d in days:
        total = answered[d] + unanswered[d]
        rates.append(100 * unanswered[d] / total if total else float("nan"))
    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.plot([datetime.fromisoformat(d) for d in days], rates, marker="o", color="#c0392b")
    ax.set_ylim(0, 100)
    ax.set_title("Pertanyaan yang belum terjawab (ditanya balik atau di luar topik), % per hari")
    ax.set_ylabel("%")
    fig.autofmt_xdate()
    return _png(fig)


def _week(day: str) -> str:
    d = date.fromisoformat(day)
    return (d - timedelta(days=d.weekday())).isoformat()


def chart_handoffs_per_week(rows: Sequence[CountRow]) -> str:
    per: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        if r.metric == "handoff_offered":
            per[r.key][_week(r.day)] += r.count
    weeks = sorted({w for counts in per.values() for w in counts}) or [_week(date.today()
                                                                        .isoformat())]
    fig, ax = plt.subplots(figsize=(8, 3.4))
    bottom = [0] * len(weeks)
    for category in sorted(per):
        values = [per[category][w] for w in weeks]
        ax.bar(weeks, values, bottom=bottom, label=category_label(category))
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_title("Rujukan ke SI-SAGA per minggu, menurut kategori (minggu mulai Senin)")
    ax.set_ylabel("rujukan")
    if per:
        ax.legend(fontsize=8, loc="upper left")
    fig.autofmt_xdate()
    return _png(fig)


def chart_hours(rows: Sequence[CountRow]) -> str:
    hours = [0] * 24
    for r in rows:
        if r.metric == "message":
            hours[r.hour] += r.count
    fig, ax = plt.subplots(figsize=(8, 2.8))
    ax.bar(range(24), hours, color=COLOR)
    ax.set_xticks(range(0, 24, 2))
    ax.set_title("Jam sibuk (WITA): pesan per jam")
    ax.set_xlabel("jam")
    return _png(fig)


def _channel_table(rows: Sequence[CountRow]) -> str:
    counts: dict[str, int] = defaultdict(int)
    for r in rows:
        if r.metric == "message":
            counts[r.channel] += r.count
    body = "".join(
        f"<tr><td>{html.escape(c)}</td><td>{n}</td></tr>"
        for c, n in sorted(counts.items(), key=lambda kv: -kv[1])
    )
    return f"<table><tr><th>Kanal</th><th>Pesan</th></tr>{body}</table>"


def render(rows: Sequence[CountRow], titles: dict[str, str]) -> str:
    s = summarize(rows)
    generated = datetime.now(LOCAL_TZ).strftime("%d-%m-%Y %H:%M WITA")
    cards = [
        ("Pesan", s.messages),
        ("Pertanyaan", s.questions),
        ("Belum terjawab", f"{100 * s.unanswered_rate:.0f}%"),
        ("Laporan risiko", s.reports),
        ("Rujukan SI-SAGA ditawarkan", s.handoffs),
        ("Setuju diteruskan", s.consents),
        ("Tidak mau diteruskan", s.declines),
        ("Laporan tersimpan", s.cases),
    ]
    card_html = "".join(
        f'<div class="card"><div class="n">{html.escape(str(v))}</div>'
        f'<div class="l">{html.escape(k)}</div></div>' for k, v in cards
    )
    if rows:
        charts = [
            ("Pesan per hari", chart_questions_per_day(rows)),
            ("Topik teratas", chart_top_topics(rows, titles)),
            ("Belum terjawab", chart_unanswered_rate(rows)),
            ("Rujukan per minggu", chart_handoffs_per_week(rows)),
            ("Jam sibuk", chart_hours(rows)),
        ]
        body = "".join(
            f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{png}"></figure>'
            for alt, png in charts
        ) + "<h2>Kanal</h2>" + _channel_table(rows)
    else:
        body = "<p class='empty'>Belum ada data untuk periode ini.</p>"
    return f"""<!doctype html>
<html lang="id"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Teman Migrasi — laporan penggunaan</title>
<style>
body {{ font-family: "DejaVu Sans", Arial, sans-serif; max-width: 900px; margin: 2em auto;
       color: #222; padding: 0 1em; }}
h1 {{ color: {COLOR}; }} .cards {{ display: flex; flex-wrap: wrap; gap: .6em; }}
.card {{ border: 1px solid #cde; border-radius: 8px; padding: .6em 1em; min-width: 8em; }}
.card .n {{ font-size: 1.6em; font-weight: bold; color: {COLOR}; }}
.card .l {{ font-size: .85em; }} figure {{ margin: 1.5em 0; }} img {{ max-width: 100%; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccd; padding: .3em .8em; }}
.note {{ font-size: .85em; color: #555; }}
</style></head><body>
<h1>Teman Migrasi — laporan penggunaan</h1>
<p>Periode {html.escape(s.first_day)} s.d. {html.escape(s.last_day)} (waktu WITA).
Dibuat {html.escape(generated)}.</p>
<div class="cards">{card_html}</div>
{body}
<p class="note">Data ini hanya berisi jumlah per jam, kanal, topik dan kategori. Tidak ada
nomor telepon, id percakapan atau isi pesan yang disimpan untuk statistik ini.
"Belum terjawab" = bot bertanya balik, tidak menemukan jawaban, atau pertanyaan di luar
topik.</p>
</body></html>
"""


def entry_titles(knowledge_dir: Path | None = None) -> dict[str, str]:
    return {e.id: e.title for e in load_entries(knowledge_dir or REPO_ROOT / "knowledge")}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--days", type=int, default=90, help="0 = all data")
    args = parser.parse_args(argv)
    store = AnalyticsStore.from_env()
    try:
        rows = store.rows()
    finally:
        store.dispose()
    if args.days > 0:
        since = (datetime.now(LOCAL_TZ).date() - timedelta(days=args.days)).isoformat()
        rows = [r for r in rows if r.day >= since]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(rows, entry_titles()), encoding="utf-8")
    print(f"Laporan ditulis ke {args.out} ({len(rows)} baris data)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
