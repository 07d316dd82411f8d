"""Hybrid search: dense (FAISS) + character and word TF-IDF, fused per knowledge entry."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from teman.config import Settings
from teman.knowledge.loader import Entry
from teman.retrieval.index import LoadedIndex

DENSE_CANDIDATES = 256


@dataclass(frozen=True)
class Hit:
    entry: Entry
    score: float
    dense: float
    char: float
    word: float


class Searcher:
    def __init__(self, index: LoadedIndex, settings: Settings) -> None:
        self.index = index
        self.settings = settings
        self.entries = index.kb.targets
        # A message that is exactly one of the phrasings (a button's words, a title) goes
        # to that phrasing's entry, whatever the scores say; ambiguous phrasings are left out.
        owners: dict[str, set[int]] = {}
        for text, owner in zip(index.docs.texts, index.docs.entry_of, strict=True):
            owners.setdefault(text, set()).add(int(owner))
        self.exact = {text: next(iter(o)) for text, o in owners.items() if len(o) == 1}

    def encode(self, normalised_text: str) -> np.ndarray:
        return self.index.encoder.encode([normalised_text])[0]

    def _per_entry(self, doc_scores: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        scores = np.full(len(self.entries), -1.0, dtype="float32")
        if mask is not None:
            doc_scores = np.where(mask, doc_scores, -1.0)
        np.maximum.at(scores, self.index.docs.entry_of, doc_scores)
        return np.clip(scores, 0.0, None)

    def search(
        self,
        normalised_text: str,
        query_vector: np.ndarray | None = None,
        k: int = 5,
        exclude_docs: np.ndarray | None = None,
    ) -> list[Hit]:
        """Top-k entries. `exclude_docs` (bool mask) hides phrasings, for leave-one-out."""
        if not normalised_text.strip():
            return []
        if query_vector is None:
            query_vector = self.encode(normalised_text)
        n_docs = self.index.faiss_index.ntotal
        fetch = min(n_docs, DENSE_CANDIDATES)
        sims, ids = self.index.faiss_index.search(query_vector[None, :], fetch)
        dense_docs = np.full(n_docs, float(sims[0, -1]) if fetch else 0.0, dtype="float32")
        dense_docs[ids[0]] = sims[0]
        char_docs, word_docs = self.index.lexical.scores(normalised_text)
        mask = None if exclude_docs is None else ~exclude_docs
        dense = self._per_entry(dense_docs, mask)
        char = self._per_entry(char_docs, mask)
        word = self._per_entry(word_docs, mask)
        s = self.settings
        answer = self.index.answers.scores(normalised_text)
        fused = (
            s.weight_dense * dense
            + s.weight_char * char
            + s.weight_word * word
            + s.weight_answer * answer
        )
        exact = self.exact.get(normalised_text) if exclude_docs is None else None
        if exact is not None:
            fused[exact] = max(float(fused[exact]), 1.0)
        order = np.argsort(-fused)[:k]
        return [
            Hit(self.entries[i], float(fused[i]), float(dense[i]), float(char[i]), float(word[i]))
            for i in order
        ]
