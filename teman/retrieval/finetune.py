"""Fine-tune the encoder on the knowledge base's own example questions.

Each entry's phrasings are positives for one another; the other entries in the batch are
negatives (in-batch softmax, the "multiple negatives ranking" objective). This teaches an
English-first model that "brp umur min krj di luar" and "berapa usia minimal" mean the
same thing. A plain torch loop keeps the dependency set small (no datasets/accelerate).
"""

from __future__ import annotations

import logging
import random
import time

import torch
import torch.nn.functional as F

from teman.retrieval.encoder import Encoder

logger = logging.getLogger(__name__)


def make_pairs(groups: list[list[str]], rng: random.Random) -> list[tuple[str, str, int]]:
    """(anchor, positive, group) pairs: every phrasing paired with another of its group."""
    pairs = []
    for gid, texts in enumerate(groups):
        unique = list(dict.fromkeys(t for t in texts if t))
        if len(unique) < 2:
            continue
        for anchor in unique:
            positive = rng.choice([t for t in unique if t != anchor])
            pairs.append((anchor, positive, gid))
    rng.shuffle(pairs)
    return pairs


def _batches(pairs: list[tuple[str, str, int]], size: int) -> list[list[tuple[str, str, int]]]:
    """Batches without two pairs of the same group (they would be false negatives)."""
    batches: list[list[tuple[str, str, int]]] = []
    pending = list(pairs)
    while pending:
        batch, used, rest = [], set(), []
        for pair in pending:
            if len(batch) < size and pair[2] not in used:
                batch.append(pair)
                used.add(pair[2])
            else:
                rest.append(pair)
        batches.append(batch)
        pending = rest
    return [b for b in batches if len(b) > 1]


def finetune(
    encoder: Encoder,
    groups: list[list[str]],
    epochs: int = 4,
    batch_size: int = 32,
    seed: int = 13,
    lr: float = 3e-5,
    scale: float = 20.0,
    max_seq_length: int = 48,
) -> dict[str, float]:
    """Train in place; returns simple statistics for the build log."""
    rng = random.Random(seed)
    torch.manual_seed(seed)
    model = encoder.model
    # Questions are short: a tight sequence limit makes training several times faster.
    original_max_length = model.max_seq_length
    model.max_seq_length = min(original_max_length, max_seq_length)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    prepare = getattr(model, "preprocess", None) or model.tokenize
    steps, last_loss = 0, 0.0
    started = time.perf_counter()
    for epoch in range(1, epochs + 1):
        batches = _batches(make_pairs(groups, rng), batch_size)
        for i, batch in enumerate(batches, 1):
            anchors = prepare([a for a, _, _ in batch])
            positives = prepare([p for _, p, _ in batch])
            emb_a = model(anchors)["sentence_embedding"]
            emb_p = model(positives)["sentence_embedding"]
            sim = F.normalize(emb_a, dim=-1) @ F.normalize(emb_p, dim=-1).T * scale
            labels = torch.arange(len(batch))
            loss = (F.cross_entropy(sim, labels) + F.cross_entropy(sim.T, labels)) / 2
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            steps += 1
            last_loss = float(loss.detach())
            if i % 10 == 0 or i == len(batches):
                done = (epoch - 1) * len(batches) + i
                left = (time.perf_counter() - started) / done * (epochs * len(batches) - done)
                logger.info(
                    "fine-tuning: epoch %d/%d, step %d/%d, loss %.3f, about %.0f s left",
                    epoch, epochs, i, len(batches), last_loss, left,
                )
    model.eval()
    model.max_seq_length = original_max_length
    logger.info("fine-tuned encoder: %d steps, last loss %.3f", steps, last_loss)
    return {"steps": float(steps), "last_loss": last_loss}
