"""Turn an informal WhatsApp message into normalised Indonesian tokens.

Steps: Unicode/lower-case clean-up, split glued numbers ("20jt", "16thn"), expand
reduplication ("ciri2"), squeeze stretched letters ("tolongggg"), tokenise with spaCy's
Indonesian tokenizer, then map every token through the lexicon.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import spacy

from teman.nlp.lexicon import Lexicon

URL = re.compile(r"https?://\S+|www\.\S+")
TAGS = re.compile(r"<[^>]{0,200}>")
GLUED_NUMBER = re.compile(r"(\d+)([a-z]+)")
REDUPLICATION = re.compile(r"\b([a-z]{2,})2\b")
STRETCHED = re.compile(r"([a-z])\1{2,}")
TRIPLED = re.compile(r"([a-z])\1\1")
NOT_WORD = re.compile(r"[^0-9a-z\u00c0-\u024f\s'-]")


@dataclass(frozen=True)
class Normalised:
    raw_tokens: tuple[str, ...]
    tokens: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.tokens)

    @property
    def raw_text(self) -> str:
        return " ".join(self.raw_tokens)


class Normalizer:
    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self.tokenizer = spacy.blank("id").tokenizer

    def clean(self, text: str) -> str:
        text = unicodedata.normalize("NFKC", text or "").lower()
        text = TAGS.sub(" ", URL.sub(" ", text))
        text = text.replace("’", "'").replace("`", "'")
        text = GLUED_NUMBER.sub(r"\1 \2", text)
        text = REDUPLICATION.sub(r"\1 \1", text)
        # Stretched letters ("tolonggggg") become three; `_unstretch` picks the word.
        text = STRETCHED.sub(r"\1\1\1", text)
        text = NOT_WORD.sub(" ", text)
        return re.sub(r"\s+", " ", text).strip()

    def _unstretch(self, token: str) -> str:
        """"tolonggg" -> "tolong", "maaaf" -> "maaf": the doubled or the single letter,
        whichever the lexicon knows (single when neither)."""
        if not TRIPLED.search(token):
            return token
        double, single = TRIPLED.sub(r"\1\1", token), TRIPLED.sub(r"\1", token)
        for candidate in (double, single):
            if self.lexicon.knows(candidate):
                return candidate
        return single

    def __call__(self, text: str) -> Normalised:
        raw = [self._unstretch(t.text.strip("'-")) for t in self.tokenizer(self.clean(text))]
        raw = [t for t in raw if t]
        tokens: list[str] = []
        for token in raw:
            mapped = self.lexicon.lookup(token)
            if mapped is None:
                tokens.append(token)
            elif mapped:
                tokens.extend(mapped.split())
        return Normalised(tuple(raw), tuple(tokens))
