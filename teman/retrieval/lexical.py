"""Lexical similarity: character n-grams survive typos, word n-grams reward exact terms."""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer


class AnswerScorer:
    """Word overlap with each entry's title and answer: catches questions phrased with the
    answer's own words ("bank apa saja" -> the entry listing BNI, Mandiri...)."""

    def __init__(self, entry_texts: list[str]) -> None:
        self.word = TfidfVectorizer(
            analyzer="word", ngram_range=(1, 1), sublinear_tf=True, token_pattern=r"(?u)\b\w\w+\b"
        )
        self.matrix = self.word.fit_transform(entry_texts)

    def scores(self, query: str) -> np.ndarray:
        return (self.matrix @ self.word.transform([query]).T).toarray().ravel().astype("float32")


class LexicalScorer:
    def __init__(self, documents: list[str]) -> None:
        self.char = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
        self.word = TfidfVectorizer(
            analyzer="word", ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b"
        )
        self.char_matrix = self.char.fit_transform(documents)
        self.word_matrix = self.word.fit_transform(documents)

    def scores(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """Cosine similarity of the query to every document, for both views."""
        char = (self.char_matrix @ self.char.transform([query]).T).toarray().ravel()
        word = (self.word_matrix @ self.word.transform([query]).T).toarray().ravel()
        return char.astype("float32"), word.astype("float32")
