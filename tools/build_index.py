"""Build the retrieval index from knowledge/: `python -m tools.build_index [--full] [--force]`.

Used by scripts/run_bot.sh at start: an incremental build when only content changed, a full
one (fine-tuning, cached by its inputs) when the encoder or normaliser changed. Staff use
`make kb ARGS=build`, which also publishes to the running bot.
"""

from __future__ import annotations

import argparse
import logging

from teman.config import Settings
from teman.retrieval.index import build_index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="full build (fine-tuning)")
    parser.add_argument("--force", action="store_true", help="rebuild even if nothing changed")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="[index] %(message)s")
    result = build_index(Settings.load(), force=args.force, full=args.full)
    if result["built"]:
        print(
            f"[index] {result['kind']} build: {result['entries']} entries / "
            f"{result['documents']} phrasings ({result['encoded']} encoded) with "
            f"{result['base_encoder']} in {result['build_seconds']} s"
        )
    else:
        print(f"[index] up to date ({result['entries']} entries)")


if __name__ == "__main__":
    main()
