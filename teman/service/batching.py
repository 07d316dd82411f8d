"""Encode concurrent messages together: one forward pass of the encoder for every message
that arrived while the previous batch ran. Idle, a message is encoded at once (no wait);
under load the per-message cost falls, since a batch costs little more than one.

Each message names the encoder that must encode it (the one of the assistant that will
decide it): around a live reload, messages for the old and the new index are encoded apart.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

MAX_BATCH = 32


class TextEncoder(Protocol):
    def encode(self, texts: list[str]) -> np.ndarray: ...


Item = tuple[str, Any, "asyncio.Future[np.ndarray]"]


class BatchEncoder:
    def __init__(self, encode: Callable[[list[str]], np.ndarray] | None = None) -> None:
        self._encode = encode
        self._queue: asyncio.Queue[Item] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    async def encode(self, text: str, encoder: TextEncoder | None = None) -> np.ndarray:
        """The vector of `text` by `encoder` (default: the function given at creation)."""
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._run())
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        await self._queue.put((text, encoder, future))
        return await future

    async def close(self) -> None:
        """Stop the worker (server shutdown); requests after this start a new one."""
        if self._worker is not None and not self._worker.done():
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        self._worker = None

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            groups: dict[int, list[Item]] = {}
            for item in batch:
                groups.setdefault(id(item[1]), []).append(item)
            for items in groups.values():
                await self._encode_group(items)

    async def _encode_group(self, items: list[Item]) -> None:
        encoder = items[0][1]
        encode = encoder.encode if encoder is not None else self._encode
        try:
            if encode is None:
                raise RuntimeError("no encoder for this message")
            vectors = await asyncio.to_thread(encode, [t for t, _, _ in items])
        except Exception as error:  # every waiting request gets the error, none hangs
            for _, _, future in items:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, _, future), vector in zip(items, vectors, strict=True):
            if not future.done():
                future.set_result(vector)
