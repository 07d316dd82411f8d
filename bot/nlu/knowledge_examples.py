"""Generate Rasa NLU examples for `ask_question` and `report_risk` from knowledge/.

The knowledge base's example questions and the curated risk reports are the single
source of truth; this writes them as Rasa training data so DIET learns the same split.
Usage: python -m bot.nlu.knowledge_examples [--knowledge DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _clean(text: str) -> str:
    """One line, no characters that Rasa's markdown-ish example syntax reads as markup."""
    text = re.sub(r"\s+", " ", str(text)).strip()
    return re.sub(r"[\[\]\(\)\{\}]", " ", text).strip()


def question_examples(knowledge: Path) -> list[str]:
    texts: list[str] = []
    for path in sorted((knowledge / "entries").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for entry in data.get("entries", []):
            texts.extend(entry.get("questions", []))
    safe = knowledge / "risk" / "safe_examples.yml"
    if safe.exists():
        texts.extend((yaml.safe_load(safe.read_text(encoding="utf-8")) or {}).get("examples", []))
    return texts


def risk_examples(knowledge: Path) -> list[str]:
    path = knowledge / "risk" / "examples.yml"
    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    texts: list[str] = []
    for category in (data.get("categories") or {}).values():
        texts.extend(category.get("examples", []))
    return texts


def _handwritten(nlu_file: Path) -> set[str]:
    data = yaml.safe_load(nlu_file.read_text(encoding="utf-8")) or {}
    seen: set[str] = set()
    for block in data.get("nlu", []):
        for line in str(block.get("examples", "")).splitlines():
            seen.add(_clean(line.lstrip("- ")).lower())
    return seen


def _unique(texts: Iterable[str], taken: set[str]) -> list[str]:
    out = []
    for text in texts:
        cleaned = _clean(text)
        key = cleaned.lower()
        if cleaned and key not in taken:
            taken.add(key)
            out.append(cleaned)
    return out


def render(knowledge: Path, nlu_file: Path) -> str:
    taken = _handwritten(nlu_file)
    risk = _unique(risk_examples(knowledge), taken)
    questions = _unique(question_examples(knowledge), taken)
    lines = [
        "# Generated from knowledge/ by bot.nlu.knowledge_examples. Do not edit.",
        'version: "3.1"',
        "nlu:",
    ]
    for intent, texts in (("ask_question", questions), ("report_risk", risk)):
        if texts:
            lines += [f"- intent: {intent}", "  examples: |"]
            lines += [f"    - {t}" for t in texts]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--knowledge", type=Path, default=ROOT / "knowledge")
    parser.add_argument("--nlu", type=Path, default=ROOT / "bot" / "data" / "nlu.yml")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bot" / "data" / "generated" / "knowledge.yml"
    )
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    content = render(args.knowledge, args.nlu)
    if not args.out.exists() or args.out.read_text(encoding="utf-8") != content:
        args.out.write_text(content, encoding="utf-8")
    print(
        f"[nlu] wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}"
    )


if __name__ == "__main__":
    main()
