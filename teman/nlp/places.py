"""Find NTT place names (regencies, towns, islands) in a message with spaCy's PhraseMatcher."""

from __future__ import annotations

from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc
from spacy.vocab import Vocab

from teman.knowledge.loader import Place
from teman.nlp.normalize import Normalised, Normalizer


class PlaceMatcher:
    def __init__(self, places: list[Place], normalizer: Normalizer) -> None:
        self.places = places
        self.vocab = Vocab()  # matching needs words only, not a tokenizer (fast)
        self.matcher = PhraseMatcher(self.vocab)
        for i, place in enumerate(places):
            patterns = []
            for alias in place.aliases:
                # Match aliases as typed and after normalisation (the lexicon may touch them).
                cleaned = normalizer.clean(alias).split()
                if cleaned:
                    patterns.append(Doc(self.vocab, words=cleaned))
            if patterns:
                self.matcher.add(str(i), patterns)

    def find(self, norm: Normalised) -> list[Place]:
        """Places mentioned, longest match first, each once."""
        found: list[tuple[int, int]] = []
        for tokens in (norm.raw_tokens, norm.tokens):
            if not tokens:
                continue
            doc = Doc(self.vocab, words=list(tokens))
            for match_id, start, end in self.matcher(doc):
                found.append((end - start, int(self.vocab.strings[match_id])))
        ordered: list[Place] = []
        for _length, idx in sorted(found, key=lambda x: -x[0]):
            if self.places[idx] not in ordered:
                ordered.append(self.places[idx])
        return ordered
