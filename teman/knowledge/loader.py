"""Load and check the knowledge base (YAML data in knowledge/) into plain dataclasses."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

MAX_ANSWER_CHARS = 700
MIN_QUESTIONS = 8


class KnowledgeError(ValueError):
    """The knowledge base has an entry staff need to fix; the message says which and why."""


@dataclass(frozen=True)
class Source:
    name: str
    date: str

    def label(self) -> str:
        return f"{self.name} ({self.date})" if self.date else self.name


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    questions: tuple[str, ...]
    answer: str
    sources: tuple[Source, ...]
    reviewed: str
    topic: str = ""
    tags: tuple[str, ...] = ()
    places: tuple[str, ...] = ()

    def source_label(self) -> str:
        return "; ".join(s.label() for s in self.sources)


@dataclass(frozen=True)
class Office:
    id: str
    name: str
    town: str
    address: str
    note: str
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class Place:
    name: str
    kind: str
    capital: str
    island: str
    aliases: tuple[str, ...]
    office: str
    note: str


@dataclass
class KnowledgeBase:
    entries: list[Entry]
    offices: dict[str, Office] = field(default_factory=dict)
    places: list[Place] = field(default_factory=list)
    dialogue: Dialogue | None = None

    @property
    def targets(self) -> list[Entry]:
        """Everything a message can be matched to: knowledge entries, then small talk."""
        return [*self.entries, *(self.dialogue.entries if self.dialogue else ())]

    def by_id(self) -> dict[str, Entry]:
        return {e.id: e for e in self.entries}


def _date(value: Any) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else str(value)


def _sources(raw: Any, where: str) -> tuple[Source, ...]:
    if not raw:
        raise KnowledgeError(f"{where}: 'sources' is missing")
    out = []
    for item in raw:
        if isinstance(item, str):
            out.append(Source(item, ""))
        else:
            out.append(Source(str(item.get("name", "")).strip(), _date(item.get("date"))))
    return tuple(out)


def _entry(raw: dict[str, Any], topic: str, where: str) -> Entry:
    for key in ("id", "title", "questions", "answer"):
        if not raw.get(key):
            raise KnowledgeError(f"{where}: '{key}' is missing")
    entry_id = str(raw["id"])
    where = f"{where} (id {entry_id})"
    questions = tuple(str(q).strip() for q in raw["questions"] if str(q).strip())
    if len(questions) < MIN_QUESTIONS:
        raise KnowledgeError(f"{where}: needs at least {MIN_QUESTIONS} questions")
    answer = str(raw["answer"]).strip()
    if len(answer) > MAX_ANSWER_CHARS:
        raise KnowledgeError(
            f"{where}: answer has {len(answer)} characters (max {MAX_ANSWER_CHARS})"
        )
    return Entry(
        id=entry_id,
        title=str(raw["title"]).strip(),
        questions=questions,
        answer=answer,
        sources=_sources(raw.get("sources"), where),
        reviewed=_date(raw.get("reviewed")),
        topic=topic,
        tags=tuple(str(t) for t in raw.get("tags") or ()),
        places=tuple(str(p) for p in raw.get("places") or ()),
    )


def load_entries(knowledge_dir: Path) -> list[Entry]:
    entries: list[Entry] = []
    seen: dict[str, str] = {}
    for path in sorted((knowledge_dir / "entries").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        topic = str(data.get("topic", path.stem))
        for i, raw in enumerate(data.get("entries") or []):
            entry = _entry(raw, topic, f"{path.name} entry {i + 1}")
            if entry.id in seen:
                raise KnowledgeError(
                    f"{path.name}: id '{entry.id}' already used in {seen[entry.id]}"
                )
            seen[entry.id] = path.name
            entries.append(entry)
    if not entries:
        raise KnowledgeError(f"no entries found in {knowledge_dir / 'entries'}")
    return entries


def load_places(knowledge_dir: Path) -> tuple[dict[str, Office], list[Place]]:
    path = knowledge_dir / "places.yml"
    if not path.exists():
        return {}, []
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    offices = {
        str(o["id"]): Office(
            id=str(o["id"]),
            name=str(o.get("name", o["id"])),
            town=str(o.get("town", "")),
            address=str(o.get("address", "") or ""),
            note=str(o.get("note", "") or ""),
            sources=_sources(
                o.get("sources") or [{"name": "places.yml"}], f"places.yml office {o['id']}"
            ),
        )
        for o in data.get("offices") or []
    }
    places = []
    for p in data.get("places") or []:
        if p.get("office") not in offices:
            raise KnowledgeError(
                f"places.yml: place {p.get('name')} names unknown office {p.get('office')}"
            )
        aliases = {str(p["name"]).lower(), *(str(a).lower() for a in p.get("aliases") or ())}
        if p.get("capital"):
            aliases.add(str(p["capital"]).lower())
        places.append(
            Place(
                name=str(p["name"]),
                kind=str(p.get("kind", "")),
                capital=str(p.get("capital", "") or ""),
                island=str(p.get("island", "") or ""),
                aliases=tuple(sorted(aliases)),
                office=str(p["office"]),
                note=str(p.get("note", "") or ""),
            )
        )
    return offices, places


def load_knowledge(knowledge_dir: Path) -> KnowledgeBase:
    offices, places = load_places(knowledge_dir)
    return KnowledgeBase(
        entries=load_entries(knowledge_dir),
        offices=offices,
        places=places,
        dialogue=load_dialogue(knowledge_dir),
    )


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None


# ---------------------------------------------------------------- dialogue (small talk)

SMALLTALK_PREFIX = "smalltalk:"
#: the `topic` of the small-talk and off-topic pseudo-entries
DIALOGUE_TOPIC = "_dialogue"
OFF_TOPIC_ID = "off_topic"


@dataclass(frozen=True)
class ConsentWords:
    """Normalised words that make a short message a yes, a no or a skip (dialogue.yml)."""

    fillers: frozenset[str]
    max_tokens: int
    affirm_starts: frozenset[str]
    affirm_extra: frozenset[str]
    deny_starts: frozenset[str]
    deny_extra: frozenset[str]
    skip_phrases: tuple[str, ...]


@dataclass(frozen=True)
class Dialogue:
    #: intent -> Rasa response name
    responses: dict[str, str]
    #: pseudo-entries searched together with the knowledge entries: one per small-talk
    #: intent (id "smalltalk:<intent>") and one for off-topic requests (id "off_topic")
    entries: tuple[Entry, ...]
    consent: ConsentWords


def _words(raw: Any) -> frozenset[str]:
    return frozenset(str(w).lower().strip() for w in raw or () if str(w).strip())


def _pseudo_entry(entry_id: str, title: str, examples: list[Any]) -> Entry:
    return Entry(
        id=entry_id,
        title=title,
        questions=tuple(str(q).strip() for q in examples if str(q).strip()),
        answer="",
        sources=(),
        reviewed="",
        topic=DIALOGUE_TOPIC,
    )


def load_dialogue(knowledge_dir: Path) -> Dialogue:
    """Small talk (dialogue.yml) and off-topic requests (offtopic.yml), if present."""
    data = load_yaml(knowledge_dir / "dialogue.yml") or {}
    responses: dict[str, str] = {}
    entries: list[Entry] = []
    for intent, spec in (data.get("smalltalk") or {}).items():
        responses[str(intent)] = str(spec.get("response", f"utter_{intent}"))
        entries.append(
            _pseudo_entry(f"{SMALLTALK_PREFIX}{intent}", str(intent), spec.get("examples") or [])
        )
    off_topic = load_yaml(knowledge_dir / "offtopic.yml") or {}
    if off_topic.get("examples"):
        entries.append(_pseudo_entry(OFF_TOPIC_ID, "off topic", off_topic["examples"]))
    consent = data.get("consent") or {}
    affirm, deny, skip = (consent.get(k) or {} for k in ("affirm", "deny", "skip"))
    return Dialogue(
        responses=responses,
        entries=tuple(entries),
        consent=ConsentWords(
            fillers=_words(consent.get("fillers")),
            max_tokens=int(consent.get("max_tokens", 4)),
            affirm_starts=_words(affirm.get("starts")),
            affirm_extra=_words(affirm.get("extra")),
            deny_starts=_words(deny.get("starts")),
            deny_extra=_words(deny.get("extra")),
            skip_phrases=tuple(sorted(_words(skip.get("phrases")), key=len, reverse=True)),
        ),
    )
