"""Build the retrieval index from knowledge/: `python -m tools.build_index [--force]`."""

from __future__ import annotations

import argparse
import logging

from teman.config import Settings
from teman.retrieval.index import build_index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--force", action="store_true", help="rebuild even if nothing changed")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="[index] %(message)s")
    result = build_index(Settings.load(), force=args.force)
    if result["built"]:
        print(
            f"[index] built {result['entries']} entries / {result['documents']} phrasings "
            f"with {result['base_encoder']} in {result['build_seconds']} s"
        )
    else:
        print(f"[index] up to date ({result['entries']} entries)")


if __name__ == "__main__":
    main()
