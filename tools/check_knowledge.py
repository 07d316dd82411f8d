"""Check the knowledge base for staff mistakes: `python -m tools.check_knowledge`.

Exits non-zero with a message naming the file and entry to fix.
"""

from __future__ import annotations

import sys

from teman.config import Settings
from teman.knowledge.loader import KnowledgeError, load_knowledge


def main() -> int:
    settings = Settings.load()
    try:
        kb = load_knowledge(settings.knowledge_dir)
    except (KnowledgeError, KeyError, TypeError, ValueError) as error:
        print(f"[knowledge] ERROR: {error}", file=sys.stderr)
        return 1
    questions = sum(len(e.questions) for e in kb.entries)
    print(
        f"[knowledge] ok: {len(kb.entries)} entries, {questions} example questions, "
        f"{len(kb.places)} places, {len(kb.offices)} offices"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
