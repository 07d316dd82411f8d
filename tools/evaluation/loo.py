"""Leave-one-out retrieval accuracy over the knowledge base's own example questions.

Each phrasing is held out in turn (hidden from both the dense and the lexical index) and
searched for; a hit is the right entry at rank 1. Reported for the fine-tuned encoder used
in production (which saw every phrasing while training, so its dense part is optimistic)
and for the base encoder (no leak at all).
`python -m tools.evaluation.loo [--base-only]`
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import faiss
import numpy as np

from teman.config import Settings
from teman.retrieval.encoder import Encoder
from teman.retrieval.finetune import finetune
from teman.retrieval.index import LoadedIndex, load_index
from teman.retrieval.searcher import Searcher


def _judge(
    searcher: Searcher, index: LoadedIndex, i: int, vector: np.ndarray, hidden: np.ndarray
) -> tuple[int, int]:
    """(top-1 hit, top-3 hit) for phrasing i searched while the `hidden` phrasings are out."""
    hits = searcher.search(index.docs.texts[i], vector, k=3, exclude_docs=hidden)
    ids = [h.entry.id for h in hits]
    truth = index.kb.targets[int(index.docs.entry_of[i])].id
    return int(ids[:1] == [truth]), int(truth in ids)


def leave_one_out(index: LoadedIndex, settings: Settings) -> tuple[float, float, int]:
    """(top-1 accuracy, top-3 accuracy, phrasings evaluated)."""
    searcher = Searcher(index, settings)
    texts, owners = index.docs.texts, index.docs.entry_of
    vectors = index.encoder.encode(texts)
    first_of_entry = {int(o): i for i, o in reversed(list(enumerate(owners)))}
    top1 = top3 = n = 0
    knowledge = len(index.kb.entries)  # small talk is not judged here
    for i in range(len(texts)):
        if first_of_entry[int(owners[i])] == i or int(owners[i]) >= knowledge:
            continue  # the title: kept so every entry stays findable
        mask = np.zeros(len(texts), dtype=bool)
        mask[i] = True
        hit1, hit3 = _judge(searcher, index, i, vectors[i], mask)
        top1, top3, n = top1 + hit1, top3 + hit3, n + 1
    return top1 / max(n, 1), top3 / max(n, 1), n


def k_fold_finetuned(
    index: LoadedIndex, settings: Settings, folds: int
) -> tuple[float, float, int]:
    """Honest accuracy of the fine-tuned pipeline: each fold's phrasings are hidden from both
    fine-tuning and the index, then searched for. Costs one fine-tuning run per fold."""
    texts, owners = index.docs.texts, index.docs.entry_of
    first_of_entry = {int(o): i for i, o in reversed(list(enumerate(owners)))}
    knowledge = len(index.kb.entries)
    candidates = [
        i
        for i in range(len(texts))
        if first_of_entry[int(owners[i])] != i and int(owners[i]) < knowledge
    ]
    top1 = top3 = n = 0
    for fold in range(folds):
        held = np.zeros(len(texts), dtype=bool)
        held[[i for j, i in enumerate(candidates) if j % folds == fold]] = True
        groups: list[list[str]] = [[] for _ in index.kb.targets]
        for i, text in enumerate(texts):
            if not held[i]:
                groups[int(owners[i])].append(text)
        groups.extend(index.risk.normalised_by_category().values())
        encoder = Encoder(settings.encoder)
        finetune(
            encoder,
            groups,
            epochs=settings.finetune_epochs,
            batch_size=settings.finetune_batch_size,
            seed=settings.finetune_seed,
        )
        vectors = encoder.encode(texts)
        fold_index = faiss.IndexFlatIP(vectors.shape[1])
        fold_index.add(vectors)
        searcher = Searcher(replace(index, encoder=encoder, faiss_index=fold_index), settings)
        for i in np.flatnonzero(held):
            hit1, hit3 = _judge(searcher, index, int(i), vectors[i], held)
            top1, top3, n = top1 + hit1, top3 + hit3, n + 1
    return top1 / max(n, 1), top3 / max(n, 1), n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-only", action="store_true")
    parser.add_argument(
        "--folds",
        type=int,
        default=0,
        help="also run K-fold cross-validation with fine-tuning per fold (slow, honest)",
    )
    args = parser.parse_args()
    settings = Settings.load()
    index = load_index(settings)
    runs = []
    if not args.base_only:
        runs.append((f"fine-tuned {index.manifest.get('base_encoder')}", index))
    base_encoder = Encoder(settings.encoder)
    base_index = faiss.IndexFlatIP(base_encoder.dimension)
    base_index.add(base_encoder.encode(index.docs.texts))
    base = replace(index, encoder=base_encoder, faiss_index=base_index)
    runs.append((f"base {settings.encoder} (no leak)", base))
    print("leave-one-out retrieval accuracy over the knowledge base's questions:")
    for label, idx in runs:
        start = time.perf_counter()
        top1, top3, n = leave_one_out(idx, settings)
        seconds = time.perf_counter() - start
        print(f"  {label:45s} top-1 {top1:.3f}  top-3 {top3:.3f}  (n={n}, {seconds:.0f} s)")
    if args.folds > 1:
        start = time.perf_counter()
        top1, top3, n = k_fold_finetuned(index, settings, args.folds)
        seconds = time.perf_counter() - start
        label = f"{args.folds}-fold, fine-tuned per fold"
        print(f"  {label:45s} top-1 {top1:.3f}  top-3 {top3:.3f}  (n={n}, {seconds:.0f} s)")


if __name__ == "__main__":
    main()
