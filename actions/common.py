"""Small helpers the actions share: reading the decision from the latest message."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker


def entity_values(tracker: Tracker, name: str) -> list[Any]:
    """Values of one entity of the latest message, in order."""
    entities = (tracker.latest_message or {}).get("entities") or []
    return [e.get("value") for e in entities if e.get("entity") == name]


def entity(tracker: Tracker, name: str, default: Any = None) -> Any:
    values = entity_values(tracker, name)
    return values[0] if values else default
