"""Evaluation case files (the format of ../shared/eval/sample.yml) and how a reply is judged."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

MAX_REPLY_CHARS = 1500
HANDOFF_ACTION = "action_handoff_sisaga"
PHONE = re.compile(r"^[\d\s+()-]{5,}$")


@dataclass(frozen=True)
class Case:
    id: str
    kind: str
    escalate: bool
    text: str
    expect_any: tuple[str, ...]
    source: str = ""
    #: earlier user messages of a multi-turn case, sent before `text`
    before: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    @property
    def messages(self) -> tuple[str, ...]:
        return (*self.before, self.text)


def load_cases(path: Path) -> list[Case]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    cases = []
    for raw in data.get("cases") or []:
        turns = [str(t) for t in raw.get("turns") or []]
        text = str(raw.get("text") or "") * int(raw.get("repeat", 1))
        if turns and not text:
            text = turns.pop()
        cases.append(
            Case(
                id=str(raw["id"]),
                kind=str(raw.get("kind", "answer")),
                escalate=bool(raw.get("escalate", False)),
                text=text,
                expect_any=tuple(str(x) for x in raw.get("expect_any") or [""]),
                source=path.name,
                before=tuple(turns),
                tags=tuple(str(t) for t in raw.get("tags") or ()),
            )
        )
    return cases


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def reply_matches(reply: str, expected: tuple[str, ...]) -> bool:
    """Case-insensitive substring; phone numbers compared on digits; "" = any non-empty reply."""
    if not reply.strip():
        return False
    lowered = reply.lower()
    for item in expected:
        if item == "":
            return True
        if PHONE.match(item) and _digits(item) and _digits(item) in _digits(reply):
            return True
        if item.lower() in lowered:
            return True
    return False


def judge(case: Case, reply: str, escalated: bool) -> str | None:
    """None when the case passes, else a short reason."""
    if escalated != case.escalate:
        return "hand-off expected" if case.escalate else "unexpected hand-off"
    if case.kind != "risk" and len(reply) > MAX_REPLY_CHARS:
        return f"reply too long ({len(reply)} chars)"
    if case.escalate and not reply_matches(reply, ("08113910910",)):
        return "SI-SAGA number missing"
    if not reply_matches(reply, case.expect_any):
        return "expected text missing"
    return None
