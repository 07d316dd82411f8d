"""The offer check's reply: the red flags the decision found in a job offer, most serious
first, each with the user's own words and why it matters, then what a legal offer looks
like. All texts come from knowledge/offers/flags.yml; every message stays under 700
characters (a phone screen), with the sources of what was said."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import entity, entity_values
from teman.decision import get_assistant
from teman.offers.rules import Flag, OfferRules

MAX_CHARS = 700
#: flags explained in full; the others are named in one line
MAX_DETAILED = 4
MAX_LEGAL = 3
MAX_EVIDENCE_CHARS = 80
EMPTY = "-"


def _evidence(value: str) -> str:
    value = " ".join(str(value or "").split())
    if len(value) > MAX_EVIDENCE_CHARS:
        value = value[: MAX_EVIDENCE_CHARS - 1].rstrip() + "…"
    return value


def _block(rules: OfferRules, flag: Flag, evidence: str, detail: str) -> str:
    head = f"⚠️ *{flag.title}*"
    if evidence and evidence != EMPTY:
        head += " — " + rules.texts["quote"].format(evidence=_evidence(evidence))
    body = flag.why if not detail or detail == EMPTY else f"{flag.why} {detail}"
    return f"{head}\n{body}"


def _pack(parts: list[str], limit: int = MAX_CHARS) -> list[str]:
    """Join parts with blank lines into as few messages as fit under `limit`."""
    messages: list[str] = []
    current = ""
    for part in parts:
        part = part[:limit]
        candidate = f"{current}\n\n{part}" if current else part
        if len(candidate) <= limit:
            current = candidate
        else:
            messages.append(current)
            current = part
    if current:
        messages.append(current)
    return messages


def _sources_line(labels: list[str], room: int) -> str:
    seen: list[str] = []
    for label in labels:
        if label not in seen and len("; ".join([*seen, label])) + 12 <= room:
            seen.append(label)
    return f"_Sumber: {'; '.join(seen)}_" if seen else ""


def compose(rules: OfferRules, flags: list[str], evidence: list[str], details: list[str],
            company: str | None) -> list[str]:
    """The reply's messages for the flags found (ids in order, most serious first)."""
    found = [(rules.flag(f), e, d) for f, e, d in zip(flags, evidence, details, strict=False)]
    found = [(f, e, d) for f, e, d in found if f is not None]
    texts = rules.texts
    company_text = rules.company_text.format(company=company) if company else ""
    if not found:
        parts = [texts["none_found"], company_text]
        sources = [texts["none_found_sources"]]
        sources += ["; ".join(f"{n} ({d})" if d else n for n, d in rules.company_sources)] \
            if company else []
        body = "\n\n".join(p for p in parts if p)
        return _pack([body, _sources_line(sources, MAX_CHARS - len(body) - 2)])
    detailed, rest = found[:MAX_DETAILED], found[MAX_DETAILED:]
    intro = texts["intro_one"] if len(found) == 1 else \
        texts["intro_many"].format(count=len(found))
    parts = [intro, *(_block(rules, f, e, d) for f, e, d in detailed)]
    if rest:
        parts.append(texts["more"].format(titles=", ".join(f.title for f, _, _ in rest)))
    messages = _pack(parts)
    legal: list[str] = []
    for flag, _, _ in detailed:
        if flag.legal not in legal and len(legal) < MAX_LEGAL:
            legal.append(flag.legal)
    closing = "\n".join([texts["legal_intro"], *(f"• {t}" for t in legal)])
    tail = [p for p in (closing, company_text, texts["closing"]) if p]
    body = "\n\n".join(tail)
    while len(body) > MAX_CHARS - 60 and len(tail) > 1:
        tail.pop(1)  # the company advice goes first, the closing advice stays
        body = "\n\n".join(tail)
    labels = [flag.source_label() for flag, _, _ in detailed]
    if company:
        labels.append("; ".join(f"{n} ({d})" if d else n for n, d in rules.company_sources))
    sources = _sources_line(labels, MAX_CHARS - len(body) - 2)
    messages.append(f"{body}\n\n{sources}" if sources else body)
    return messages


class ActionCheckOffer(Action):
    def name(self) -> str:
        return "action_check_offer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        rules = get_assistant().offers.rules
        flags = [str(v) for v in entity_values(tracker, "offer_flag")]
        evidence = [str(v) for v in entity_values(tracker, "offer_evidence")]
        details = [str(v) for v in entity_values(tracker, "offer_detail")]
        company = entity(tracker, "offer_company")
        for text in compose(rules, flags, evidence, details, str(company) if company else None):
            dispatcher.utter_message(text=text)
        if entity(tracker, "hotline"):
            dispatcher.utter_message(response="utter_hotline_note")
        return []
