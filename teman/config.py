"""Decision-service settings: defaults in teman/settings.yml, overrides from TEMAN_* env vars."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFAULTS_FILE = Path(__file__).with_name("settings.yml")


@dataclass(frozen=True)
class Settings:
    encoder: str
    finetune: bool
    finetune_epochs: int
    finetune_batch_size: int
    finetune_seed: int
    knowledge_dir: Path
    index_dir: Path
    weight_dense: float
    weight_char: float
    weight_word: float
    weight_answer: float
    answer_threshold: float
    clarify_threshold: float
    margin_for_answer: float
    suggestions: int
    smalltalk_threshold: float
    clarify_spread: float
    tie_margin: float
    risk_neighbours: int
    risk_similarity: float
    risk_vote: float
    risk_kb_margin: float
    risk_question_similarity: float
    risk_near_duplicate: float
    risk_safe_veto_similarity: float
    risk_safe_veto_vote: float
    max_message_chars: int
    place_trigger_words: tuple[str, ...]
    followups: bool
    followup_max_tokens: int
    followup_own_score: float
    followup_words: tuple[str, ...]
    followup_nya_exceptions: tuple[str, ...]
    followup_place_words: tuple[str, ...]
    tracker_store_url: str
    tracker_retention_days: int
    cases_per_hour: int

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Defaults file, then environment, then explicit overrides (used by tests/tools)."""
        raw: dict[str, Any] = yaml.safe_load(DEFAULTS_FILE.read_text(encoding="utf-8"))
        values: dict[str, Any] = {}
        for field in fields(cls):
            value = overrides.get(field.name, os.environ.get(f"TEMAN_{field.name.upper()}"))
            if value is None:
                value = raw[field.name]
            values[field.name] = _coerce(field.type, value)
        for key in ("knowledge_dir", "index_dir"):
            path = Path(values[key])
            values[key] = path if path.is_absolute() else ROOT / path
        return cls(**values)


def _coerce(type_name: Any, value: Any) -> Any:
    name = type_name if isinstance(type_name, str) else getattr(type_name, "__name__", "")
    if name == "bool":
        return value if isinstance(value, bool) else str(value).lower() in {"1", "true", "yes"}
    if name == "int":
        return int(value)
    if name == "float":
        return float(value)
    if name == "Path":
        return Path(value)
    if name.startswith("tuple"):
        items = value.split(",") if isinstance(value, str) else value
        return tuple(str(v).strip().lower() for v in items if str(v).strip())
    return str(value)
