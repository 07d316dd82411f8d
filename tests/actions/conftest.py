"""Tracker fixtures for the thin actions (the way RasaHQ/financial-demo tests its actions):
a rasa-sdk Tracker built from plain events, a dispatcher that collects replies."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.support.trackers import user_event  # noqa: E402

SLOTS = {
    "handoff_stage": None,
    "handoff_category": None,
    "handoff_abroad": None,
    "handoff_child": None,
    "handoff_victim": None,
    "handoff_location": None,
    "handoff_contact": None,
    "requested_slot": None,
    "topic": None,
    "place": None,
}


@pytest.fixture
def make_tracker() -> Callable[..., Tracker]:
    def build(
        text: str = "",
        intent: str = "ask_question",
        ents: list[dict[str, Any]] | None = None,
        slots: dict[str, Any] | None = None,
        events: list[dict[str, Any]] | None = None,
        sender_id: str = "test-sender",
        active_loop: str | None = None,
        confidence: float = 1.0,
    ) -> Tracker:
        latest = user_event(text, intent, ents, confidence)
        return Tracker(
            sender_id,
            {**SLOTS, **(slots or {})},
            latest["parse_data"],
            [*(events or []), latest],
            False,
            None,
            {"name": active_loop} if active_loop else {},
            "action_listen",
        )

    return build


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()
