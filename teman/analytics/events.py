"""Tracker event -> aggregate increments, keeping nothing that identifies a person.

Only values from the bot's own vocabulary become keys: intent names, the decision kind
(answer / clarify / place / empty), knowledge entry ids, risk categories, action names and the
channel name. Free text (the message, a place name a user typed, form answers) is never read.
Hand-off actions carry no category or channel, so the consumer remembers the last reported
category and channel per conversation in memory only, under a per-process salted hash.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

# NTT's time zone (WITA, UTC+8): days and hours as staff live them.
LOCAL_TZ = timezone(timedelta(hours=8))
ASK, REPORT, OUT_OF_SCOPE = "ask_question", "report_risk", "out_of_scope"
# Actions that mark a hand-off step -> the metric they count (keyed by risk category).
HANDOFF_ACTIONS = {
    "action_handoff_sisaga": "handoff_offered",
    "action_handoff_consent": "handoff_consent",
    "action_handoff_decline": "handoff_declined",
    "action_submit_case": "case_submitted",
}
# Keys must look like vocabulary, not like text: short, lower-case identifiers.
_KEY = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,63}$")
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Increment:
    day: str  # YYYY-MM-DD, local time
    hour: int  # 0-23, local time
    channel: str
    metric: str
    key: str


def vocabulary(value: Any) -> str:
    """A key only if it is a vocabulary identifier; anything else becomes 'unknown'."""
    text = str(value or "").strip().lower()
    return text if _KEY.match(text) else UNKNOWN


def _bucket(timestamp: Any) -> tuple[str, int]:
    try:
        moment = datetime.fromtimestamp(float(timestamp), tz=timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        moment = datetime.now(timezone.utc)
    local = moment.astimezone(LOCAL_TZ)
    return local.strftime("%Y-%m-%d"), local.hour


def _entities(parse: dict[str, Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for entity in parse.get("entities") or []:
        if isinstance(entity, dict) and entity.get("entity"):
            out.setdefault(str(entity["entity"]), []).append(entity.get("value"))
    return out


class Aggregator:
    """Turns a stream of tracker events into increments."""

    def __init__(self, memory: int = 20_000) -> None:
        self._salt = os.urandom(16)
        self._memory = memory
        # salted hash of a conversation -> (channel, last risk category); memory only
        self._conversations: OrderedDict[bytes, tuple[str, str]] = OrderedDict()

    def _conversation(self, sender: Any) -> bytes:
        return hashlib.blake2b(str(sender).encode("utf-8"), key=self._salt, digest_size=16).digest()

    def _remember(self, key: bytes, channel: str, category: str) -> None:
        self._conversations[key] = (channel, category)
        self._conversations.move_to_end(key)
        while len(self._conversations) > self._memory:
            self._conversations.popitem(last=False)

    def increments(self, event: dict[str, Any]) -> list[Increment]:
        """What one tracker event adds to the counts (often nothing)."""
        kind = event.get("event")
        day, hour = _bucket(event.get("timestamp"))
        key = self._conversation(event.get("sender_id"))
        known_channel, known_category = self._conversations.get(key, (UNKNOWN, UNKNOWN))
        if kind == "user":
            channel = vocabulary(event.get("input_channel")) if event.get(
                "input_channel") else known_channel
            parse = event.get("parse_data") or {}
            intent = vocabulary((parse.get("intent") or {}).get("name"))
            entities = _entities(parse)
            out = [Increment(day, hour, channel, "message", ""),
                   Increment(day, hour, channel, "intent", intent)]
            category = known_category
            if intent == ASK:
                decision = vocabulary((entities.get("decision") or [UNKNOWN])[0])
                out.append(Increment(day, hour, channel, "decision", decision))
                if decision == "answer" and entities.get("entry_id"):
                    out.append(Increment(day, hour, channel, "topic",
                                         vocabulary(entities["entry_id"][0])))
            elif intent == OUT_OF_SCOPE:
                out.append(Increment(day, hour, channel, "decision", OUT_OF_SCOPE))
            elif intent == REPORT:
                category = vocabulary((entities.get("risk_category") or [UNKNOWN])[0])
                out.append(Increment(day, hour, channel, "risk_report", category))
            self._remember(key, channel, category)
            return out
        if kind == "action":
            metric = HANDOFF_ACTIONS.get(str(event.get("name") or ""))
            if metric:
                return [Increment(day, hour, known_channel, metric, known_category)]
        if kind == "session_started":
            return [Increment(day, hour, known_channel, "session", "")]
        return []
