"""Slang -> standard Indonesian lexicon: our own data first, then asronlp's table.

Our lexicon (knowledge/lexicon.yml) knows WhatsApp abbreviations and Kupang Malay and
must win over asronlp's general table, which maps e.g. pi->tapi and ko->kok.
asronlp is MIT licensed; only its `data/kamuskatabaku.xlsx` is read (its Python code
and its Sastrawi dependency are not used).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
from functools import lru_cache
from pathlib import Path

import yaml

logger = logging.getLogger(__name__)


LEXICON_FILES = ("lexicon.yml", "lexicon_en.yml")


def slang_table_version() -> str:
    """Version of the general slang table's package ("none" when absent): part of the index
    fingerprint, since a new table changes how questions are normalised."""
    try:
        return importlib.metadata.version("asronlp")
    except importlib.metadata.PackageNotFoundError:
        return "none"


def load_own_lexicon(path: Path) -> dict[str, str]:
    if not path.exists():
        if path.name == "lexicon.yml":
            logger.warning("lexicon %s missing; slang normalisation is reduced", path)
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    mapping = data.get("map", data) if isinstance(data, dict) else {}
    return {
        str(k).lower().strip(): "" if v is None else str(v).lower().strip()
        for k, v in mapping.items()
    }


@lru_cache(maxsize=1)
def load_asronlp_table() -> dict[str, str]:
    """The 15k-entry slang table shipped in the asronlp package, or {} if not installed."""
    spec = importlib.util.find_spec("asro_nlp")
    if spec is None or not spec.submodule_search_locations:
        logger.warning("asronlp not installed; using only the project lexicon")
        return {}
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "kamuskatabaku.xlsx"
    import openpyxl  # local import: only needed here

    workbook = openpyxl.load_workbook(path, read_only=True)
    table: dict[str, str] = {}
    for i, row in enumerate(workbook.active.iter_rows(values_only=True)):
        if i == 0 or not row or row[0] is None or row[1] is None:
            continue
        table[str(row[0]).lower().strip()] = str(row[1]).lower().strip()
    workbook.close()
    return table


class Lexicon:
    """Maps one token to its standard form (possibly several words, or nothing)."""

    def __init__(self, own: dict[str, str], general: dict[str, str] | None = None) -> None:
        self.own = own
        self.general = general or {}
        self._known: set[str] | None = None

    @classmethod
    def from_knowledge(cls, knowledge_dir: Path, use_general: bool = True) -> Lexicon:
        general = load_asronlp_table() if use_general else {}
        # English glosses (for facilitators who ask in English) under our own lexicon.
        own = {**load_own_lexicon(knowledge_dir / "lexicon_en.yml")}
        own.update(load_own_lexicon(knowledge_dir / "lexicon.yml"))
        return cls(own, general)

    def knows(self, word: str) -> bool:
        """A word the lexicon maps, or maps something to (a standard word)."""
        if self._known is None:
            self._known = {
                w
                for table in (self.own, self.general)
                for key, value in table.items()
                for w in (key, *value.split())
            }
        return word in self._known

    def lookup(self, token: str) -> str | None:
        if token in self.own:
            return self.own[token]
        mapped = self.general.get(token)
        if mapped is None:
            return None
        # A general-table result may itself be informal ("ga" -> "enggak" -> "tidak").
        return self.own.get(mapped, mapped)
