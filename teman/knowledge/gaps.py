"""What young people ask that the bot cannot answer, from real conversations.

Reads user messages from Rasa's SQL tracker store (the parse result the decision service
gave is stored with each one) and keeps those that got a question back (clarify), a kind no
(out_of_scope) or an answer below the answer threshold. Similar messages are grouped, most
frequent first. Nothing that identifies a person leaves this module: no sender id, phone
numbers' digits and e-mail addresses masked.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field

import sqlalchemy as sa

from teman.privacy.trackers import REDACTED, resolve_url, sqlite_path

CLARIFY, DECLINED, LOW = "tanya balik", "ditolak", "skor rendah"
PHONE = re.compile(r"\+?\d[\d\s().-]{5,}\d")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
GROUP_SIMILARITY = 0.5


def mask(text: str) -> str:
    """Phone numbers' digits become •, e-mail addresses [email]."""
    text = EMAIL.sub("[email]", text)
    return PHONE.sub(
        lambda m: re.sub(r"\d", "•", m.group()) if sum(c.isdigit() for c in m.group()) >= 7
        else m.group(),
        text,
    )


@dataclass
class Gap:
    text: str
    reason: str
    when: dt.datetime
    score: float


@dataclass
class GapGroup:
    examples: list[str]
    count: int
    reasons: dict[str, int]
    first: dt.datetime
    last: dt.datetime
    variants: int = 1
    members: list[Gap] = field(default_factory=list, repr=False)


def _reason(parse: dict, answer_threshold: float) -> tuple[str, float] | None:
    intent = (parse.get("intent") or {}).get("name")
    score = float((parse.get("intent") or {}).get("confidence") or 0.0)
    decision = next(
        (e.get("value") for e in parse.get("entities") or () if e.get("entity") == "decision"),
        None,
    )
    if intent == "out_of_scope":
        return DECLINED, score
    if intent == "ask_question" and decision == "clarify":
        return CLARIFY, score
    if intent == "ask_question" and decision == "answer" and score < answer_threshold:
        return LOW, score
    return None


def read_gaps(url: str, answer_threshold: float, since: dt.datetime | None = None) -> list[Gap]:
    path = sqlite_path(url)
    if path is not None and not path.exists():
        return []
    engine = sa.create_engine(resolve_url(url))
    try:
        if not sa.inspect(engine).has_table("events"):
            return []
        query = "SELECT timestamp, data FROM events WHERE type_name = 'user'"
        params: dict[str, float] = {}
        if since is not None:
            query += " AND timestamp >= :since"
            params["since"] = since.timestamp()
        with engine.connect() as conn:
            rows = conn.execute(sa.text(query + " ORDER BY timestamp"), params).all()
    finally:
        engine.dispose()
    gaps = []
    for timestamp, data in rows:
        event = json.loads(data)
        text = str(event.get("text") or "").strip()
        if not text or text == REDACTED:
            continue
        found = _reason(event.get("parse_data") or {}, answer_threshold)
        if found is None:
            continue
        when = dt.datetime.fromtimestamp(float(timestamp), tz=dt.timezone.utc)
        gaps.append(Gap(mask(text), found[0], when, found[1]))
    return gaps


def group_gaps(gaps: list[Gap], similarity: float = GROUP_SIMILARITY) -> list[GapGroup]:
    """Greedy grouping by character n-gram similarity, the most frequent wording leading."""
    if not gaps:
        return []
    from sklearn.feature_extraction.text import TfidfVectorizer

    by_text: dict[str, list[Gap]] = {}
    for gap in gaps:
        by_text.setdefault(" ".join(gap.text.lower().split()), []).append(gap)
    texts = sorted(by_text, key=lambda t: (-len(by_text[t]), t))
    vectors = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
    matrix = vectors.fit_transform(texts)
    sims = (matrix @ matrix.T).toarray()
    leaders: list[int] = []
    members: dict[int, list[int]] = {}
    for i in range(len(texts)):
        leader = next((j for j in leaders if sims[i, j] >= similarity), None)
        if leader is None:
            leaders.append(i)
            members[i] = [i]
        else:
            members[leader].append(i)
    groups = []
    for leader in leaders:
        items = [g for i in members[leader] for g in by_text[texts[i]]]
        reasons: dict[str, int] = {}
        for g in items:
            reasons[g.reason] = reasons.get(g.reason, 0) + 1
        groups.append(
            GapGroup(
                examples=[by_text[texts[i]][0].text for i in members[leader]],
                count=len(items),
                reasons=reasons,
                first=min(g.when for g in items),
                last=max(g.when for g in items),
                variants=len(members[leader]),
                members=items,
            )
        )
    return sorted(groups, key=lambda g: (-g.count, -g.last.timestamp()))
