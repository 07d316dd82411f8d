"""The texts SI-SAGA staff receive: case e-mails, WhatsApp template parameters, alerts.

Every message is built from the hotline payload the store already wrote (the same fields the
webhook receives, so every channel keeps one privacy level) and the wording in
``knowledge/staff_messages.yml``. Category keys become the labels of
``knowledge/risk/examples.yml``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from .config import REPO_ROOT

MESSAGES_FILE = REPO_ROOT / "knowledge" / "staff_messages.yml"
CATEGORIES_FILE = REPO_ROOT / "knowledge" / "risk" / "examples.yml"
# WhatsApp rejects template parameters with line breaks, tabs or more than 4 spaces in a row.
_PARAM_SPACE = re.compile(r"[\r\n\t]+| {4,}")
WHATSAPP_PARAM_MAX = 1000


@lru_cache(maxsize=2)
def _messages(path: Path = MESSAGES_FILE) -> dict[str, Any]:
    return dict(yaml.safe_load(path.read_text(encoding="utf-8")))


@lru_cache(maxsize=2)
def category_labels(path: Path = CATEGORIES_FILE) -> dict[str, str]:
    """Risk category key -> the Indonesian label staff know."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {
        str(key): str(value.get("label") or key)
        for key, value in (raw.get("categories") or {}).items()
        if isinstance(value, dict)
    }


def category_label(key: str) -> str:
    return category_labels().get(key, key.replace("_", " "))


def local_time(iso: str | None) -> str:
    """``2025-01-31T08:15:00Z`` -> ``31-01-2025 16:15 WITA`` (NTT's time zone)."""
    msgs = _messages()
    if not iso:
        return msgs["not_given"]
    try:
        moment = datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return iso
    hours = int(msgs.get("timezone_hours", 8))
    local = moment.astimezone(timezone(timedelta(hours=hours)))
    return f"{local:%d-%m-%Y %H:%M} {msgs.get('timezone_label', '')}".strip()


def _fields(payload: dict[str, Any], dedupe_key: str) -> dict[str, str]:
    not_given = _messages()["not_given"]

    def value(name: str) -> str:
        text = payload.get(name)
        return str(text).strip() if text not in (None, "") else not_given

    return {
        "reference": value("reference"),
        "created_at": local_time(payload.get("created_at")),
        "channel": value("channel"),
        "category": category_label(str(payload.get("category") or "")),
        "victim": value("victim"),
        "location": value("location"),
        "contact": value("contact"),
        "excerpt": value("excerpt"),
        "dedupe_key": dedupe_key,
    }


@dataclass(frozen=True)
class Mail:
    subject: str
    body: str


def case_email(payload_json: str, dedupe_key: str) -> Mail:
    """Subject and plain-text body of a case e-mail."""
    template = _messages()["case_email"]
    fields = _fields(json.loads(payload_json), dedupe_key)
    subject = " ".join(template["subject"].format(**fields).split())
    return Mail(subject=subject, body=template["body"].format(**fields))


def _param(text: str, limit: int = WHATSAPP_PARAM_MAX) -> str:
    text = _PARAM_SPACE.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def whatsapp_parameters(payload_json: str) -> list[str]:
    """The template's body parameters, in the order docs/cases.md gives."""
    fields = _fields(json.loads(payload_json), "")
    excerpt_chars = int(_messages()["case_whatsapp"].get("excerpt_chars", 500))
    return [
        _param(fields["reference"]),
        _param(fields["category"]),
        _param(fields["victim"]),
        _param(fields["location"]),
        _param(fields["contact"]),
        _param(fields["excerpt"], excerpt_chars),
    ]


def alert_email(kind: str, **values: object) -> Mail:
    """An alert e-mail (``dead_letter`` or ``forwarder_down``)."""
    template = _messages()["alerts"][kind]
    text = {k: str(v) for k, v in values.items()}
    return Mail(
        subject=" ".join(template["subject"].format(**text).split()),
        body=template["body"].format(**text),
    )
