"""``python -m actions.cases`` is a shortcut for the staff CLI."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
