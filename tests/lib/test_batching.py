"""Concurrent messages are encoded together, and each gets its own vector back."""

from __future__ import annotations

import asyncio

import numpy as np

from teman.service.batching import BatchEncoder


async def test_concurrent_requests_share_batches_and_get_their_own_vectors() -> None:
    calls: list[list[str]] = []

    def encode(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return np.asarray([[float(len(t)), float(i)] for i, t in enumerate(texts)])

    batcher = BatchEncoder(encode)
    texts = [f"pesan {'x' * i}" for i in range(20)]
    vectors = await asyncio.gather(*(batcher.encode(t) for t in texts))
    assert [v[0] for v in vectors] == [float(len(t)) for t in texts]
    assert sum(len(c) for c in calls) == 20
    assert len(calls) < 20  # they were batched
    await batcher.close()


async def test_an_encoder_error_reaches_every_waiting_request() -> None:
    def encode(texts: list[str]) -> np.ndarray:
        raise RuntimeError("encoder down")

    batcher = BatchEncoder(encode)
    results = await asyncio.gather(
        *(batcher.encode("a") for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, RuntimeError) for r in results)
    await batcher.close()


def test_batched_vectors_decide_like_single_ones(kb_assistant) -> None:
    texts = ["syarat jadi pmi apa saja", "paspor saya ditahan majikan", "halo kak"]
    norms = [kb_assistant.read(t) for t in texts]
    vectors = kb_assistant.index.encoder.encode([n.text for n in norms])
    for text, vector, norm in zip(texts, vectors, norms, strict=True):
        batched, single = kb_assistant.decide(text, vector, norm), kb_assistant.decide(text)
        assert batched.intent == single.intent and batched.entities() == single.entities()


async def test_messages_for_two_encoders_are_encoded_apart() -> None:
    """Around a live reload, a message is encoded by its own assistant's encoder."""

    class Named:
        def __init__(self, value: float) -> None:
            self.value = value
            self.calls = 0

        def encode(self, texts: list[str]) -> np.ndarray:
            self.calls += 1
            return np.full((len(texts), 2), self.value)

    old, new = Named(1.0), Named(2.0)
    batcher = BatchEncoder()
    pairs = [(f"pesan {i}", old if i % 2 else new) for i in range(10)]
    vectors = await asyncio.gather(*(batcher.encode(t, e) for t, e in pairs))
    assert [v[0] for v in vectors] == [e.value for _, e in pairs]
    assert old.calls >= 1 and new.calls >= 1
    await batcher.close()
