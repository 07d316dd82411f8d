"""Check the knowledge base for staff mistakes: `python -m tools.check_knowledge`.

Exits non-zero with a message naming the file and entry to fix.
"""

from __future__ import annotations

import sys

from teman.config import Settings
from teman.knowledge.loader import KnowledgeError, load_knowledge
from teman.offers.validate import validate as validate_offers


def main() -> int:
    settings = Settings.load()
    try:
        kb = load_knowledge(settings.knowledge_dir)
    except (KnowledgeError, KeyError, TypeError, ValueError) as error:
        print(f"[knowledge] ERROR: {error}", file=sys.stderr)
        return 1
    offer_problems = validate_offers(settings.knowledge_dir)
    for problem in offer_problems:
        print(f"[knowledge] ERROR: {problem}", file=sys.stderr)
    if offer_problems:
        return 1
    questions = sum(len(e.questions) for e in kb.entries)
    print(
        f"[knowledge] ok: {len(kb.entries)} entries, {questions} example questions, "
        f"{len(kb.places)} places, {len(kb.offices)} offices, offer-check rules valid"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
