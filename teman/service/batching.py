"""Encode concurrent messages together: one forward pass of the encoder for every message
that arrived while the previous batch ran. Idle, a message is encoded at once (no wait);
under load the per-message cost falls, since a batch costs little more than one."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import numpy as np

MAX_BATCH = 32


class BatchEncoder:
    def __init__(self, encode: Callable[[list[str]], np.ndarray]) -> None:
        self._encode = encode
        self._queue: asyncio.Queue[tuple[str, asyncio.Future[np.ndarray]]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    async def encode(self, text: str) -> np.ndarray:
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._run())
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        await self._queue.put((text, future))
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
            try:
                vectors = await asyncio.to_thread(self._encode, [t for t, _ in batch])
            except Exception as error:  # every waiting request gets the error, none hangs
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, future), vector in zip(batch, vectors, strict=True):
                if not future.done():
                    future.set_result(vector)
