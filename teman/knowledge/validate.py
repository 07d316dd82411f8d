"""Check the knowledge base the way staff need it: every problem with its file, line and a
plain-Indonesian explanation. `kb validate` prints these; errors stop `kb build`.

Errors: a broken file or entry (schema), a duplicate id, a source that is our own fact sheet,
a place alias or lexicon key that is an everyday word, a place the gazetteer does not know,
an answer the bot refuses to load (longer than 700 characters).
Warnings: example questions so close to another entry's that retrieval will confuse them,
a source without a date, `reviewed` older than 12 months, an answer over 650 characters, a
title over 40 characters.

Checks are plain callables in VALIDATORS; other parts add theirs to EXTRA_VALIDATORS with
one line (e.g. `"teman.offers.validate:check_offers"` in the list below): such a callable
takes the knowledge folder and returns Issues, or (level, message) pairs, or plain strings
(errors).
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError

from teman.knowledge.loader import MAX_ANSWER_CHARS, MIN_QUESTIONS

ERROR, WARNING = "error", "warning"
AIM_ANSWER_CHARS = 650
MAX_TITLE_CHARS = 40
REVIEW_MONTHS = 12
ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
DATE_PATTERN = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
NO_DATE = "tanpa tanggal"
ENTRY_KEYS = {"id", "title", "tags", "places", "questions", "answer", "sources", "reviewed"}
REQUIRED_KEYS = ("id", "title", "questions", "answer", "sources", "reviewed")
#: a source that is one of our own fact sheets (never cited to users as a source)
OWN_SOURCE = re.compile(
    r"fact[\s_-]*sheet|lembar[\s_-]*fakta|shared/facts|safe[\s_-]*migration[\s_-]*(ntt|abroad)"
    r"|\.md\b|teman[\s_-]*migrasi",
    re.IGNORECASE,
)
#: fused similarity (like the search) above which two entries' questions get confused
NEAR_DUPLICATE = 0.82


@dataclass(frozen=True)
class Issue:
    level: str
    code: str
    message: str
    file: str = ""
    line: int = 0

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass
class RawEntry:
    """One entry as written, with where it is."""

    data: Any  # ruamel CommentedMap
    file: str
    line: int

    @property
    def id(self) -> str:
        value = self.data.get("id") if hasattr(self.data, "get") else None
        return str(value) if value is not None else ""

    def line_of(self, key: str, item: int | None = None) -> int:
        try:
            if item is not None:
                return int(self.data[key].lc.item(item)[0]) + 1
            return int(self.data.lc.key(key)[0]) + 1
        except (AttributeError, KeyError, IndexError, TypeError):
            return self.line


@dataclass
class Context:
    knowledge_dir: Path
    today: dt.date
    index_dir: Path | None = None  # the published index: vectors for the near-duplicates
    entries: list[RawEntry] = field(default_factory=list)
    places: Any = None  # places.yml as read (ruamel)
    lexicons: dict[str, Any] = field(default_factory=dict)
    common_words: frozenset[str] = frozenset()
    issues: list[Issue] = field(default_factory=list)  # from reading the files

    def rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.knowledge_dir.parent))
        except ValueError:
            return str(path)


Validator = Callable[[Context], Iterable[Issue]]
ExternalValidator = Callable[[Path], Iterable[Any]]


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    return yaml


def _read(path: Path, ctx: Context) -> Any:
    """A YAML file, or None with an issue saying where it breaks."""
    text = path.read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), 1):
        if "\t" in line[: len(line) - len(line.lstrip())]:
            ctx.issues.append(
                Issue(ERROR, "schema", "ada karakter Tab di awal baris; pakai spasi saja",
                      ctx.rel(path), number)
            )
            return None
    try:
        return _yaml().load(text)
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 0
        problem = (error.problem or "").strip()
        ctx.issues.append(
            Issue(
                ERROR,
                "schema",
                f"YAML tidak bisa dibaca ({problem}); biasanya indentasi tidak rata atau ada "
                "': ' di dalam teks yang belum diberi tanda kutip",
                ctx.rel(path),
                line,
            )
        )
        return None


def _load_common_words(knowledge_dir: Path) -> frozenset[str]:
    path = knowledge_dir / "common_words.yml"
    if not path.exists():
        return frozenset()
    data = _yaml().load(path.read_text(encoding="utf-8")) or {}
    words = [*(data.get("known") or ()), *(data.get("frequent") or ())]
    return frozenset(str(w).strip().lower() for w in words if str(w).strip())


def read_context(
    knowledge_dir: Path, today: dt.date | None = None, index_dir: Path | None = None
) -> Context:
    ctx = Context(knowledge_dir=knowledge_dir, today=today or dt.date.today(), index_dir=index_dir)
    for path in sorted((knowledge_dir / "entries").glob("*.yml")):
        data = _read(path, ctx)
        if data is None:
            continue
        if not hasattr(data, "get") or not isinstance(data.get("entries"), list):
            ctx.issues.append(
                Issue(ERROR, "schema", "file ini harus punya 'topic:' dan daftar 'entries:'",
                      ctx.rel(path), 1)
            )
            continue
        for i, raw in enumerate(data["entries"]):
            line = int(data["entries"].lc.item(i)[0]) + 1
            ctx.entries.append(RawEntry(raw, ctx.rel(path), line))
    if (knowledge_dir / "places.yml").exists():
        ctx.places = _read(knowledge_dir / "places.yml", ctx)
    for name in ("lexicon.yml", "lexicon_en.yml"):
        if (knowledge_dir / name).exists():
            data = _read(knowledge_dir / name, ctx)
            if data is not None:
                ctx.lexicons[name] = data.get("map", data) if hasattr(data, "get") else {}
    ctx.common_words = _load_common_words(knowledge_dir)
    return ctx


# ------------------------------------------------------------------ the checks


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def check_schema(ctx: Context) -> Iterator[Issue]:
    for e in ctx.entries:
        if not hasattr(e.data, "get"):
            yield Issue(ERROR, "schema", "entri harus berisi kolom seperti 'id:', 'title:' …",
                        e.file, e.line)
            continue
        label = f"entri '{e.id}'" if e.id else "entri tanpa id"
        for key in e.data:
            if key not in ENTRY_KEYS:
                yield Issue(ERROR, "schema",
                            f"{label}: kolom '{key}' tidak dikenal (salah ketik?); yang boleh: "
                            + ", ".join(sorted(ENTRY_KEYS)), e.file, e.line_of(str(key)))
        for key in REQUIRED_KEYS:
            if not e.data.get(key) and key != "sources":
                yield Issue(ERROR, "schema", f"{label}: kolom '{key}' belum diisi",
                            e.file, e.line_of(key) if key in e.data else e.line)
        if e.id and not ID_PATTERN.match(e.id):
            yield Issue(ERROR, "schema",
                        f"{label}: id hanya boleh huruf kecil, angka dan tanda '-' "
                        "(contoh: kur-tanpa-agunan)", e.file, e.line_of("id"))
        for key in ("tags", "places", "questions", "sources"):
            value = e.data.get(key)
            if value is not None and not isinstance(value, list):
                yield Issue(ERROR, "schema",
                            f"{label}: '{key}' harus berupa daftar (baris-baris yang diawali '- ')",
                            e.file, e.line_of(key))
        questions = e.data.get("questions")
        if isinstance(questions, list):
            real = [q for q in questions if _text(q)]
            if len(real) < MIN_QUESTIONS:
                yield Issue(ERROR, "schema",
                            f"{label}: baru {len(real)} contoh pertanyaan, minimal {MIN_QUESTIONS}",
                            e.file, e.line_of("questions"))
            for i, q in enumerate(questions):
                if not isinstance(q, str):
                    yield Issue(ERROR, "schema",
                                f"{label}: pertanyaan ke-{i + 1} bukan teks biasa (beri tanda "
                                "kutip bila ada ': ' di dalamnya)", e.file,
                                e.line_of("questions", i))
        answer = _text(e.data.get("answer"))
        if len(answer) > MAX_ANSWER_CHARS:
            yield Issue(ERROR, "schema",
                        f"{label}: jawaban {len(answer)} karakter, maksimal {MAX_ANSWER_CHARS} "
                        "(bot tidak mau memuatnya)", e.file, e.line_of("answer"))
        elif len(answer) > AIM_ANSWER_CHARS:
            yield Issue(WARNING, "long-answer",
                        f"{label}: jawaban {len(answer)} karakter; usahakan ≤ {AIM_ANSWER_CHARS} "
                        "supaya enak dibaca di HP", e.file, e.line_of("answer"))
        title = _text(e.data.get("title"))
        if len(title) > MAX_TITLE_CHARS:
            yield Issue(WARNING, "long-title",
                        f"{label}: judul {len(title)} karakter; tombol muat ≤ {MAX_TITLE_CHARS}",
                        e.file, e.line_of("title"))
        reviewed = e.data.get("reviewed")
        if reviewed and _parse_date(reviewed) is None:
            yield Issue(ERROR, "schema",
                        f"{label}: 'reviewed' harus tanggal TTTT-BB-HH (contoh 2026-11-23)",
                        e.file, e.line_of("reviewed"))


def check_sources(ctx: Context) -> Iterator[Issue]:
    for e in ctx.entries:
        if not hasattr(e.data, "get"):
            continue
        label = f"entri '{e.id}'"
        sources = e.data.get("sources")
        if not sources:
            yield Issue(ERROR, "missing-source",
                        f"{label}: belum ada sumber; setiap jawaban wajib punya sumber dan tanggal",
                        e.file, e.line_of("sources") if "sources" in e.data else e.line)
            continue
        if not isinstance(sources, list):
            continue
        for i, source in enumerate(sources):
            line = e.line_of("sources", i)
            name = _text(source.get("name") if hasattr(source, "get") else source)
            date = _text(source.get("date")) if hasattr(source, "get") else ""
            if not name:
                yield Issue(ERROR, "missing-source", f"{label}: sumber ke-{i + 1} tanpa 'name'",
                            e.file, line)
            elif OWN_SOURCE.search(name):
                yield Issue(ERROR, "own-source",
                            f"{label}: sumber \"{name}\" adalah lembar fakta kita sendiri; "
                            "tulis sumber aslinya (media, lembaga, peraturan) dan tanggalnya",
                            e.file, line)
            if not date:
                yield Issue(WARNING, "missing-source",
                            f"{label}: sumber \"{name}\" tanpa tanggal; tulis tanggalnya, atau "
                            f"\"{NO_DATE}\" bila sumbernya memang tidak bertanggal",
                            e.file, line)
            elif date != NO_DATE and not DATE_PATTERN.match(date):
                yield Issue(ERROR, "schema",
                            f"{label}: tanggal sumber \"{date}\" harus TTTT-BB-HH, \"TTTT-BB\", "
                            f"\"TTTT\" atau \"{NO_DATE}\"", e.file, line)


def check_duplicate_ids(ctx: Context) -> Iterator[Issue]:
    seen: dict[str, RawEntry] = {}
    for e in ctx.entries:
        if not e.id:
            continue
        first = seen.get(e.id)
        if first is not None:
            yield Issue(ERROR, "duplicate-id",
                        f"id '{e.id}' sudah dipakai di {first.file}:{first.line}; setiap id harus "
                        "unik", e.file, e.line_of("id"))
        else:
            seen[e.id] = e


def _parse_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _text(value)
    for fmt, size in (("%Y-%m-%d", 10), ("%Y-%m", 7), ("%Y", 4)):
        if len(text) == size:
            try:
                return dt.datetime.strptime(text, fmt).date()
            except ValueError:
                return None
    return None


def months_before(today: dt.date, months: int) -> dt.date:
    year, month = divmod(today.year * 12 + today.month - 1 - months, 12)
    return dt.date(year, month + 1, min(today.day, 28))


def check_reviewed(ctx: Context) -> Iterator[Issue]:
    cutoff = months_before(ctx.today, REVIEW_MONTHS)
    for e in ctx.entries:
        if not hasattr(e.data, "get"):
            continue
        reviewed = _parse_date(e.data.get("reviewed"))
        if reviewed is not None and reviewed < cutoff:
            yield Issue(WARNING, "stale",
                        f"entri '{e.id}': terakhir diperiksa {reviewed.isoformat()}, lebih dari "
                        f"{REVIEW_MONTHS} bulan lalu; cek lagi sumbernya lalu perbarui 'reviewed'",
                        e.file, e.line_of("reviewed"))


def _place_names(ctx: Context) -> set[str]:
    places = ctx.places.get("places") if hasattr(ctx.places, "get") else None
    return {str(p.get("name")) for p in places or () if hasattr(p, "get")}


def check_places(ctx: Context) -> Iterator[Issue]:
    if ctx.places is None:
        return
    known = _place_names(ctx)
    for e in ctx.entries:
        places = e.data.get("places") if hasattr(e.data, "get") else None
        if not isinstance(places, list):
            continue
        for i, place in enumerate(places):
            if str(place) not in known:
                yield Issue(ERROR, "unknown-place",
                            f"entri '{e.id}': tempat '{place}' tidak ada di places.yml; pakai "
                            "nama persis seperti di sana (misalnya 'Timor Tengah Selatan')",
                            e.file, e.line_of("places", i))


def check_common_aliases(ctx: Context) -> Iterator[Issue]:
    words = ctx.common_words
    places_file = ctx.rel(ctx.knowledge_dir / "places.yml")
    offices = {str(o.get("id")) for o in (ctx.places or {}).get("offices") or ()}
    owner: dict[str, str] = {}
    for place in (ctx.places or {}).get("places") or ():
        name = str(place.get("name"))
        if offices and place.get("office") not in offices:
            yield Issue(ERROR, "schema",
                        f"tempat '{name}': kantor '{place.get('office')}' tidak ada di 'offices'",
                        places_file, int(place.lc.line) + 1)
        aliases = place.get("aliases") or []
        for i, alias in enumerate(aliases):
            alias_text = str(alias).strip().lower()
            line = int(aliases.lc.item(i)[0]) + 1
            if alias_text in words:
                yield Issue(ERROR, "common-alias",
                            f"alias '{alias_text}' untuk {name} juga kata sehari-hari; pesan "
                            "yang memakai kata itu akan dikira menyebut tempat. Hapus, atau "
                            f"pakai bentuk yang jelas (misalnya 'pulau {alias_text}')",
                            places_file, line)
            if alias_text in owner and owner[alias_text] != name:
                yield Issue(ERROR, "schema",
                            f"alias '{alias_text}' dipakai untuk {owner[alias_text]} dan {name}; "
                            "satu alias hanya untuk satu tempat", places_file, line)
            owner.setdefault(alias_text, name)
    for file_name, mapping in ctx.lexicons.items():
        if not hasattr(mapping, "lc"):
            continue
        for key in mapping:
            kept_as_typed = str(mapping[key]).strip().lower() == str(key).strip().lower()
            if str(key).strip().lower() in words and not kept_as_typed:
                yield Issue(ERROR, "common-alias",
                            f"kata '{key}' di {file_name} juga kata sehari-hari; mengubahnya "
                            f"menjadi '{mapping[key]}' salah arti pada pesan biasa",
                            ctx.rel(ctx.knowledge_dir / file_name),
                            int(mapping.lc.key(key)[0]) + 1)


def check_near_duplicates(ctx: Context) -> Iterator[Issue]:
    """Questions of two entries so alike that retrieval cannot tell the entries apart."""
    from teman.knowledge.similar import confusable_questions

    yield from confusable_questions(ctx, NEAR_DUPLICATE)


#: in order; check_near_duplicates is the slow one (normaliser, TF-IDF, index vectors)
VALIDATORS: list[Validator] = [
    check_schema,
    check_duplicate_ids,
    check_sources,
    check_places,
    check_common_aliases,
    check_reviewed,
    check_near_duplicates,
]
#: checks of other parts of the knowledge folder (e.g. offers): callables, or "module:name"
#: strings imported when validation runs; see the module docstring
EXTRA_VALIDATORS: list[ExternalValidator | str] = ["teman.offers.validate:validate"]


def _resolve(check: ExternalValidator | str) -> ExternalValidator:
    if callable(check):
        return check
    module, _, name = check.partition(":")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def _as_issue(item: Any, origin: str) -> Issue:
    if isinstance(item, Issue):
        return item
    if isinstance(item, tuple) and len(item) == 2:
        level = WARNING if str(item[0]).lower().startswith("warn") else ERROR
        return Issue(level, origin, str(item[1]))
    return Issue(ERROR, origin, str(item))


def validate(
    knowledge_dir: Path,
    today: dt.date | None = None,
    near_duplicates: bool = True,
    progress: Callable[[str], None] | None = None,
    index_dir: Path | None = None,
) -> list[Issue]:
    """Every issue, errors first, then by file and line."""
    ctx = read_context(knowledge_dir, today, index_dir)
    issues = list(ctx.issues)
    for check in VALIDATORS:
        if check is check_near_duplicates and not near_duplicates:
            continue
        if progress:
            progress(check.__name__)
        issues.extend(check(ctx))
    for external in map(_resolve, EXTRA_VALIDATORS):
        if progress:
            progress(getattr(external, "__name__", "extra"))
        origin = getattr(external, "__module__", "extra").rsplit(".", 1)[-1]
        issues.extend(_as_issue(item, origin) for item in external(knowledge_dir))
    return sorted(issues, key=lambda i: (i.level != ERROR, i.file, i.line))
