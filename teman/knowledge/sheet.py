"""The whole knowledge base as one spreadsheet (CSV) and back.

One row per entry; questions and sources one per line inside their cell (a source is
"name | date"), tags and places separated by commas. Import edits only what changed, with
ruamel.yaml's round trip (comments, quotes and layout stay), so importing an unchanged
export leaves every file byte for byte as it was. An import is checked (kb validate's
rules) on a copy first and writes nothing when there is an error.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString

COLUMNS = ["file", "topic", "id", "title", "tags", "places", "questions", "answer", "sources",
           "reviewed"]
SOURCE_SEP = " | "


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _date_text(value: Any) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else str(value)


def _cell_sources(sources: Any) -> str:
    lines = []
    for source in sources or ():
        if hasattr(source, "get"):
            lines.append(f"{source.get('name', '')}{SOURCE_SEP}{_date_text(source.get('date'))}")
        else:
            lines.append(str(source))
    return "\n".join(lines)


def entry_row(file_name: str, topic: str, entry: Any) -> dict[str, str]:
    return {
        "file": file_name,
        "topic": topic,
        "id": str(entry.get("id", "")),
        "title": str(entry.get("title", "")),
        "tags": ", ".join(str(t) for t in entry.get("tags") or ()),
        "places": ", ".join(str(p) for p in entry.get("places") or ()),
        "questions": "\n".join(str(q) for q in entry.get("questions") or ()),
        "answer": str(entry.get("answer", "")).rstrip("\n"),
        "sources": _cell_sources(entry.get("sources")),
        "reviewed": _date_text(entry.get("reviewed")),
    }


def export_rows(knowledge_dir: Path) -> list[dict[str, str]]:
    rows = []
    yaml = _yaml()
    for path in sorted((knowledge_dir / "entries").glob("*.yml")):
        data = yaml.load(path.read_text(encoding="utf-8")) or {}
        topic = str(data.get("topic", path.stem))
        for entry in data.get("entries") or ():
            rows.append(entry_row(path.name, topic, entry))
    return rows


def export_csv(knowledge_dir: Path, out: Path) -> int:
    rows = export_rows(knowledge_dir)
    # utf-8-sig: spreadsheet programs then read the Indonesian text correctly
    with out.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


# ------------------------------------------------------------------ import


class SheetError(ValueError):
    """The spreadsheet itself cannot be read (messages in Indonesian, with the row)."""


@dataclass
class ImportPlan:
    changed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    files: dict[str, Any] = field(default_factory=dict)  # file name -> new document

    @property
    def empty(self) -> bool:
        return not (self.changed or self.added or self.removed)


def read_csv(path: Path) -> list[dict[str, str]]:
    text = path.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise SheetError(f"kolom berikut tidak ada di baris judul: {', '.join(missing)}")
    rows = []
    for number, row in enumerate(reader, start=2):
        clean = {k: (row.get(k) or "").replace("\r\n", "\n").strip() for k in COLUMNS}
        if not any(clean.values()):
            continue
        if not clean["id"]:
            raise SheetError(f"baris {number}: kolom 'id' kosong")
        if not clean["file"]:
            raise SheetError(f"baris {number} (id {clean['id']}): kolom 'file' kosong")
        if "/" in clean["file"] or not clean["file"].endswith(".yml"):
            raise SheetError(
                f"baris {number} (id {clean['id']}): 'file' harus nama file seperti kur.yml"
            )
        clean["_row"] = str(number)
        rows.append(clean)
    return rows


def _split_list(cell: str) -> list[str]:
    return [p.strip() for p in cell.split(",") if p.strip()]


def _lines(cell: str) -> list[str]:
    return [line.strip() for line in cell.split("\n") if line.strip()]


def _date_value(text: str) -> Any:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return DoubleQuotedScalarString(text) if text else text


def _set_seq(entry: CommentedMap, key: str, values: list[Any], flow: bool) -> None:
    current = entry.get(key)
    if isinstance(current, CommentedSeq):
        del current[:]
        current.extend(values)
        return
    seq = CommentedSeq(values)
    if flow:
        seq.fa.set_flow_style()
    entry[key] = seq


def _sources_value(cell: str, current: Any) -> CommentedSeq:
    out = CommentedSeq()
    flow_items = bool(current) and all(
        isinstance(s, CommentedMap) and s.fa.flow_style() for s in current
    )
    for line in _lines(cell):
        name, _, date = line.partition(SOURCE_SEP.strip())
        item = CommentedMap()
        item["name"] = DoubleQuotedScalarString(name.strip())
        item["date"] = _date_value(date.strip())
        if flow_items:
            item.fa.set_flow_style()
        out.append(item)
    return out


def _apply(entry: CommentedMap, row: dict[str, str], file_name: str, topic: str) -> bool:
    """Write the row's values into the entry where they differ; True when anything did."""
    before = entry_row(file_name, topic, entry)
    changed = False
    for key in ("title", "tags", "places", "questions", "answer", "sources", "reviewed"):
        if before[key] == row[key]:
            continue
        changed = True
        if key == "title":
            entry["title"] = row["title"]
        elif key in ("tags", "places"):
            _set_seq(entry, key, _split_list(row[key]), flow=True)
        elif key == "questions":
            _set_seq(entry, key, _lines(row[key]), flow=False)
        elif key == "answer":
            entry["answer"] = LiteralScalarString(row["answer"].rstrip("\n") + "\n")
        elif key == "sources":
            entry["sources"] = _sources_value(row["sources"], entry.get("sources"))
        elif key == "reviewed":
            entry["reviewed"] = _date_value(row["reviewed"])
    return changed


def _new_entry(row: dict[str, str]) -> CommentedMap:
    entry = CommentedMap()
    entry["id"] = row["id"]
    for key in ("title", "tags", "places", "questions", "answer", "sources", "reviewed"):
        entry[key] = None
    _apply(entry, row, row["file"], row["topic"])
    for key in ("tags", "places"):
        if entry[key] is None:
            _set_seq(entry, key, [], flow=True)
    return entry


def plan_import(knowledge_dir: Path, rows: list[dict[str, str]]) -> ImportPlan:
    yaml = _yaml()
    plan = ImportPlan()
    docs: dict[str, Any] = {}
    for path in sorted((knowledge_dir / "entries").glob("*.yml")):
        docs[path.name] = yaml.load(path.read_text(encoding="utf-8")) or CommentedMap()
    seen: dict[str, str] = {}
    touched: set[str] = set()
    for row in rows:
        if row["id"] in seen:
            raise SheetError(
                f"baris {row['_row']}: id '{row['id']}' sudah ada di baris {seen[row['id']]}"
            )
        seen[row["id"]] = row["_row"]
    by_id: dict[str, tuple[str, CommentedMap]] = {}
    for name, doc in docs.items():
        for entry in doc.get("entries") or ():
            by_id[str(entry.get("id"))] = (name, entry)
    for row in rows:
        found = by_id.get(row["id"])
        if found is not None and found[0] != row["file"]:
            raise SheetError(
                f"baris {row['_row']}: entri '{row['id']}' ada di {found[0]}, bukan "
                f"{row['file']}; pindah file lewat YAML, bukan lewat spreadsheet"
            )
        if found is None:
            doc = docs.get(row["file"])
            if doc is None:
                doc = docs[row["file"]] = CommentedMap()
                doc["topic"] = row["topic"] or Path(row["file"]).stem
                doc["entries"] = CommentedSeq()
            doc["entries"].append(_new_entry(row))
            plan.added.append(row["id"])
            touched.add(row["file"])
            continue
        name, entry = found
        topic = str(docs[name].get("topic", Path(name).stem))
        if _apply(entry, row, name, topic):
            plan.changed.append(row["id"])
            touched.add(name)
    for entry_id, (name, entry) in by_id.items():
        if entry_id not in seen:
            docs[name]["entries"].remove(entry)
            plan.removed.append(entry_id)
            touched.add(name)
    plan.files = {name: docs[name] for name in sorted(touched)}
    return plan


def dump(doc: Any) -> str:
    out = io.StringIO()
    _yaml().dump(doc, out)
    return out.getvalue()


def write_plan(knowledge_dir: Path, plan: ImportPlan) -> None:
    for name, doc in plan.files.items():
        target = knowledge_dir / "entries" / name
        tmp = target.with_name(f".{name}.tmp")
        tmp.write_text(dump(doc), encoding="utf-8")
        tmp.replace(target)


def staged_copy(knowledge_dir: Path, plan: ImportPlan) -> Path:
    """A copy of the knowledge folder with the plan applied, for validation before writing."""
    tmp = Path(tempfile.mkdtemp(prefix="kb-import-")) / knowledge_dir.name
    shutil.copytree(knowledge_dir, tmp)
    write_plan(tmp, plan)
    return tmp
