"""Outbox worker: delivers consented cases to the SI-SAGA hotline over HTTP.

Run as ``python -m teman.cases.forwarder``. The action server only writes outbox rows; this
separate process does the network I/O so a slow or offline hotline never blocks the chat.

Delivery is at-least-once; every POST for a case carries the same ``Idempotency-Key`` so the
hotline can deduplicate (a ``409`` reply counts as delivered). Failed attempts are retried
with exponential backoff and jitter until FORWARD_GIVE_UP_AFTER hours after the case was
created; then the row is marked dead and an error is logged for staff.

Logs contain case references, HTTP status codes and error class names only: never sender
ids, excerpts, contacts or the token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import sys
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
from sqlalchemy.exc import SQLAlchemyError
from yarl import URL

from .config import ConfigError, ForwarderConfig
from .models import utcnow
from .store import CaseStore, ClaimedItem

log = logging.getLogger("teman_migrasi.cases.forwarder")


@dataclass(frozen=True)
class Outcome:
    """Result of one POST: delivered or not, plus a short personal-data-free reason."""

    delivered: bool
    status: int | None
    error: str | None


def backoff_delay(
    failures: int, base: float, maximum: float, rng: random.Random | None = None
) -> float:
    """Exponential backoff with "equal jitter": between half and all of ``base*2^(n-1)``.

    Jitter spreads retries of many queued cases after an outage; keeping at least half the
    delay stops a struggling hotline from being hammered.
    """
    rng = rng or random.Random()
    exp = min(maximum, base * (2 ** max(0, failures - 1)))
    return exp / 2 + rng.uniform(0, exp / 2)


def is_delivered_status(status: int) -> bool:
    """2xx, or 409 meaning 'already have this Idempotency-Key'."""
    return 200 <= status < 300 or status == 409


class Forwarder:
    """Polls the outbox and POSTs due rows; one instance per process."""

    def __init__(
        self, store: CaseStore, config: ForwarderConfig, *, rng: random.Random | None = None
    ) -> None:
        self.store = store
        self.config = config
        self._rng = rng or random.Random()

    def _headers(self, item: ClaimedItem) -> dict[str, str]:
        """Request headers; the bearer token is only sent when configured."""
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": item.idempotency_key,
            "User-Agent": "teman-migrasi-forwarder/1",
        }
        if self.config.token:
            headers["Authorization"] = f"Bearer {self.config.token}"
        return headers

    async def _post(self, http: aiohttp.ClientSession, item: ClaimedItem) -> Outcome:
        """One delivery attempt; never raises for network problems."""
        assert self.config.url is not None
        timeout = aiohttp.ClientTimeout(total=self.config.timeout)
        try:
            async with http.post(
                self.config.url,
                data=item.payload.encode("utf-8"),
                headers=self._headers(item),
                timeout=timeout,
            ) as resp:
                # Drain the body so the connection can be reused; its content is not logged.
                await resp.read()
                status = resp.status
        except asyncio.TimeoutError:  # not the builtin TimeoutError on Python 3.10
            return Outcome(False, None, "timeout")
        except aiohttp.ClientConnectorError as exc:
            return Outcome(False, None, f"connection failed ({type(exc).__name__})")
        except aiohttp.ClientError as exc:
            return Outcome(False, None, f"client error ({type(exc).__name__})")
        if is_delivered_status(status):
            return Outcome(True, status, None)
        return Outcome(False, status, f"HTTP {status}")

    async def _handle(self, http: aiohttp.ClientSession, item: ClaimedItem) -> None:
        """Deliver one claimed row and record the outcome."""
        outcome = await self._post(http, item)
        attempt = item.attempts + 1
        if outcome.delivered:
            await asyncio.to_thread(self.store.mark_delivered, item.outbox_id)
            log.info(
                "case %s delivered (HTTP %s, attempt %d)", item.reference, outcome.status, attempt
            )
            return
        now = utcnow()
        error = outcome.error or "unknown error"
        deadline = item.case_created_at + timedelta(hours=self.config.give_up_after_hours)
        if now >= deadline:
            await asyncio.to_thread(
                self.store.mark_failed, item.outbox_id, error=error, next_attempt_at=now, dead=True
            )
            log.error(
                "case %s NOT delivered; giving up after %d attempts (%s). "
                "Staff must pass it to the hotline manually.",
                item.reference,
                attempt,
                error,
            )
            return
        delay = backoff_delay(attempt, self.config.backoff_base, self.config.backoff_max, self._rng)
        await asyncio.to_thread(
            self.store.mark_failed,
            item.outbox_id,
            error=error,
            next_attempt_at=now + timedelta(seconds=delay),
        )
        log.warning(
            "case %s delivery failed: %s (attempt %d); retry in %.1f s",
            item.reference,
            error,
            attempt,
            delay,
        )

    async def run_once(self, http: aiohttp.ClientSession) -> int:
        """Claim and process one batch of due rows concurrently; return how many."""
        items = await asyncio.to_thread(
            self.store.claim_due,
            limit=self.config.batch_size,
            lease_seconds=self.config.claim_lease,
        )
        if items:
            results = await asyncio.gather(
                *(self._handle(http, item) for item in items), return_exceptions=True
            )
            for item, result in zip(items, results, strict=True):
                if isinstance(result, BaseException):
                    # E.g. the database went away after the POST: the row stays leased and is
                    # re-sent after the lease (the hotline deduplicates by Idempotency-Key).
                    log.error(
                        "case %s: could not record the outcome (%s)",
                        item.reference,
                        type(result).__name__,
                    )
        return len(items)

    async def run(self, stop: asyncio.Event) -> None:
        """Main loop until ``stop`` is set; in-flight POSTs finish (bounded by the timeout)."""
        if not self.config.url:
            pending = await asyncio.to_thread(self.store.pending_count)
            log.warning(
                "HOTLINE_FORWARD_URL is not set: forwarding is disabled; "
                "%d case(s) stay queued until it is configured",
                pending,
            )
            await stop.wait()
            return
        target = URL(self.config.url)
        log.info(
            "forwarder started: %s://%s (store %s)",
            target.scheme,
            target.host,
            self.store.engine.dialect.name,
        )
        async with aiohttp.ClientSession() as http:
            while not stop.is_set():
                try:
                    processed = await self.run_once(http)
                except SQLAlchemyError as exc:
                    # Database hiccup (locked, restarting): log the class only, retry later.
                    log.error("database error while forwarding: %s", type(exc).__name__)
                    processed = 0
                if processed < self.config.batch_size:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=self.config.poll_interval)
        log.info("forwarder stopped")


async def _amain(store: CaseStore, config: ForwarderConfig) -> None:
    """Install signal handlers and run until SIGTERM/SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def _on_signal(signame: str) -> None:
        if not stop.is_set():
            log.info("received %s, finishing in-flight deliveries", signame)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _on_signal, sig.name)
    await Forwarder(store, config).run(stop)


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``python -m teman.cases.forwarder``; returns the exit code."""
    del argv  # configuration comes only from the environment
    from teman.infra.logs import configure

    configure(os.environ.get("LOG_LEVEL", "INFO").upper(),
              "%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = ForwarderConfig.from_env()
        store = CaseStore.from_env()
    except ConfigError as exc:
        log.error("configuration error: %s", exc)
        return 2
    except SQLAlchemyError as exc:
        log.error("cannot open the case database: %s", type(exc).__name__)
        return 1
    try:
        asyncio.run(_amain(store, config))
    finally:
        store.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
