"""Plain rasa-sdk events for tracker fixtures."""

from __future__ import annotations

from typing import Any


def user_event(
    text: str,
    intent: str,
    entities: list[dict[str, Any]] | None = None,
    confidence: float = 1.0,
) -> dict:
    parse = {"text": text, "intent": {"name": intent, "confidence": confidence},
             "entities": entities or []}
    return {"event": "user", "text": text, "parse_data": parse, "input_channel": "rest"}


def entities(**values: Any) -> list[dict[str, Any]]:
    out = []
    for name, value in values.items():
        for v in value if isinstance(value, list) else [value]:
            out.append({"entity": name, "value": v})
    return out
