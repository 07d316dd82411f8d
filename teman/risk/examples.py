"""Curated risk reports and look-alike safe questions (knowledge/risk/*.yml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from teman.nlp.normalize import Normalizer

SAFE = "__safe__"


@dataclass
class RiskExamples:
    """Normalised example texts with their category (SAFE for the look-alike questions)."""

    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    category_labels: dict[str, str] = field(default_factory=dict)

    def normalised_by_category(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for text, label in zip(self.texts, self.labels, strict=True):
            if label != SAFE:
                groups.setdefault(label, []).append(text)
        return groups


def load_risk_examples(knowledge_dir: Path, normalizer: Normalizer) -> RiskExamples:
    out = RiskExamples()
    for risk_file in sorted((knowledge_dir / "risk").glob("examples*.yml")):
        data = yaml.safe_load(risk_file.read_text(encoding="utf-8")) or {}
        for key, category in (data.get("categories") or {}).items():
            out.category_labels.setdefault(key, str(category.get("label", key)))
            for example in category.get("examples") or []:
                out.texts.append(normalizer(str(example)).text)
                out.labels.append(key)
    # Look-alike safe messages: every risk/safe*.yml file.
    for safe_file in sorted((knowledge_dir / "risk").glob("safe*.yml")):
        data = yaml.safe_load(safe_file.read_text(encoding="utf-8")) or {}
        for example in data.get("examples") or []:
            out.texts.append(normalizer(str(example)).text)
            out.labels.append(SAFE)
    return out
