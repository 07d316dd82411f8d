"""Redaction and expiry in a tracker store laid out like Rasa's SQL tracker store."""

from __future__ import annotations

import json
import time
from pathlib import Path

from teman.privacy.trackers import REDACTED, expire, redact_user_messages
from tests.support.tracker_db import bot, insert, rows, user


def test_a_declined_report_is_blanked_in_place(tracker_url: str) -> None:
    now = time.time()
    insert(tracker_url, user("a", "om Yohanes hilang di Malaysia", now), bot("a", now),
           user("b", "paspor saya ditahan", now))
    assert redact_user_messages(tracker_url, "a") == 1
    after = rows(tracker_url)
    assert len(after) == 3  # nothing deleted: Rasa appends by counting rows
    a_user = next(d for s, d in after if s == "a" and d["event"] == "user")
    assert a_user["text"] == REDACTED and a_user["parse_data"]["text"] == REDACTED
    assert a_user["parse_data"]["entities"] == []
    assert "Yohanes" not in json.dumps([d for _, d in after])
    assert next(d for s, d in after if s == "b")["text"] == "paspor saya ditahan"
    assert redact_user_messages(tracker_url, "a") == 0  # idempotent


def slot(sender: str, name: str, value: object, at: float) -> dict:
    data = {"event": "slot", "timestamp": at, "name": name, "value": value}
    return {"sender_id": sender, "type_name": "slot", "timestamp": at, "intent_name": None,
            "data": json.dumps(data)}


def test_a_decline_also_blanks_the_place_a_follow_up_remembered(tracker_url: str) -> None:
    now = time.time()
    insert(tracker_url, user("a", "beta tinggal di Lembata", now),
           slot("a", "place", "Lembata", now), slot("a", "topic", "kur-penempatan", now),
           slot("b", "place", "Alor", now))
    assert redact_user_messages(tracker_url, "a", slots=("place",)) == 1
    after = rows(tracker_url)
    assert "Lembata" not in json.dumps([d for s, d in after if s == "a"])
    assert [d["value"] for s, d in after if d["event"] == "slot"] == [
        None, "kur-penempatan", "Alor"
    ]


def test_retention_deletes_idle_conversations_and_blanks_old_messages(tracker_url: str) -> None:
    now = time.time()
    old = now - 40 * 86400
    insert(tracker_url, user("idle", "cerita lama", old), bot("idle", old),
           user("live", "pesan lama", old), user("live", "pesan baru", now))
    result = expire(tracker_url, retention_days=30, now=now)
    assert result == {"deleted_conversations": 1, "blanked_messages": 1}
    after = rows(tracker_url)
    assert {s for s, _ in after} == {"live"}
    assert [d["text"] for _, d in after] == [REDACTED, "pesan baru"]


def test_no_tracker_store_yet_is_no_error(tmp_path: Path) -> None:
    assert redact_user_messages(f"sqlite:///{tmp_path / 'none' / 'trackers.db'}", "x") == 0
