"""Example questions of two entries that the search would confuse (a `kb validate` warning).

Similarity as the search fuses it: dense cosine (vectors of the published index, when it has
the phrasing) plus character and word TF-IDF over the normalised questions; without a vector
the lexical part alone, rescaled.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from teman.knowledge.validate import Context, Issue

W_DENSE, W_CHAR, W_WORD = 0.5, 0.3, 0.2
#: lexical similarity alone overrates questions that share a frame ("kur singkatan dari apa",
#: "ltsa singkatan dari apa"): without vectors, a pair must be this much closer
LEXICAL_STRICTER = 0.82 / 0.9


def index_vectors(index_dir: Path | None) -> dict[str, np.ndarray]:
    """Normalised phrasing -> vector, from the published index (empty when there is none)."""
    if index_dir is None:
        return {}
    folder = (index_dir / "current").resolve()
    if not (folder / "docs.json").exists():
        return {}
    import faiss

    texts = json.loads((folder / "docs.json").read_text())
    index = faiss.read_index(str(folder / "docs.faiss"))
    if index.ntotal != len(texts) or not texts:
        return {}
    return dict(zip(texts, index.reconstruct_n(0, index.ntotal), strict=True))


def confusable_questions(ctx: Context, threshold: float) -> Iterator[Issue]:
    from teman.knowledge.validate import WARNING, Issue
    from teman.nlp.lexicon import Lexicon
    from teman.nlp.normalize import Normalizer
    from teman.retrieval.lexical import LexicalScorer

    normalizer = Normalizer(Lexicon.from_knowledge(ctx.knowledge_dir))
    texts: list[str] = []
    where: list[tuple[int, int]] = []  # (entry number, question number)
    for n, entry in enumerate(ctx.entries):
        questions = entry.data.get("questions") if hasattr(entry.data, "get") else None
        if not entry.id or not isinstance(questions, list):
            continue
        for i, question in enumerate(questions):
            norm = normalizer(str(question)).text
            if norm:
                texts.append(norm)
                where.append((n, i))
    if len(texts) < 2:
        return
    lexical = LexicalScorer(texts)
    char = (lexical.char_matrix @ lexical.char_matrix.T).toarray()
    word = (lexical.word_matrix @ lexical.word_matrix.T).toarray()
    lexical_sim = (W_CHAR * char + W_WORD * word) / (W_CHAR + W_WORD) * LEXICAL_STRICTER
    known = index_vectors(getattr(ctx, "index_dir", None))
    have = np.asarray([t in known for t in texts])
    sim = lexical_sim
    if have.any():
        dim = len(next(iter(known.values())))
        vectors = np.stack([known.get(t, np.zeros(dim, dtype="float32")) for t in texts])
        fused = W_DENSE * (vectors @ vectors.T) + W_CHAR * char + W_WORD * word
        both = have[:, None] & have[None, :]
        sim = np.where(both, fused, lexical_sim)
    owner = np.asarray([n for n, _ in where])
    sim = np.where(owner[:, None] == owner[None, :], -1.0, sim)
    reported: set[tuple[int, int]] = set()
    for a in range(len(texts)):
        b = int(np.argmax(sim[a]))
        if sim[a, b] < threshold or (min(a, b), max(a, b)) in reported:
            continue
        reported.add((min(a, b), max(a, b)))
        ea, eb = ctx.entries[where[a][0]], ctx.entries[where[b][0]]
        qa = ea.data["questions"][where[a][1]]
        qb = eb.data["questions"][where[b][1]]
        line_b = eb.line_of("questions", where[b][1])
        yield Issue(
            WARNING,
            "near-duplicate",
            f"pertanyaan \"{qa}\" (entri '{ea.id}') hampir sama dengan \"{qb}\" (entri "
            f"'{eb.id}', {eb.file}:{line_b}); bot bisa tertukar. Ubah atau hapus salah satu",
            ea.file,
            ea.line_of("questions", where[a][1]),
        )
