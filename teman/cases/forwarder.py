"""Outbox worker: delivers consented cases to SI-SAGA: the hotline's HTTP endpoint, staff
WhatsApp numbers (template messages) and staff e-mail addresses.

Run as ``python -m teman.cases.forwarder``. The action server only writes outbox rows (one
per target); this separate process does the network I/O so a slow or offline hotline never
blocks the chat.

Delivery is at-least-once; every attempt for one row carries the same dedupe key (the
webhook's ``Idempotency-Key``, a ``409`` reply counts as delivered; the WhatsApp message's
``biz_opaque_callback_data``; the e-mail's ``Message-ID``). Failed attempts are retried with
exponential backoff and jitter until FORWARD_GIVE_UP_AFTER hours after the case was created,
or at once for an answer no retry can change; then the row is dead-lettered, an error is
logged and an alert e-mail is queued for staff (``ALERT_EMAIL_TO``). The worker also writes
a heartbeat that the decision service watches (teman/cases/alerts.py).

Logs contain case references, target kinds, status codes and error class names only: never
sender ids, excerpts, contacts, staff addresses or tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import sys
import time
from dataclasses import replace
from datetime import timedelta

import aiohttp
from sqlalchemy.exc import SQLAlchemyError
from yarl import URL

from . import alerts
from .config import ConfigError, ForwarderConfig
from .models import WEBHOOK_TARGET, utcnow
from .senders import Outcome, is_delivered_status, send_email, send_webhook, send_whatsapp
from .store import CaseStore, ClaimedItem
from .targets import DeliveryConfig, target_address, target_kind

log = logging.getLogger("teman_migrasi.cases.forwarder")

__all__ = ["Forwarder", "Outcome", "backoff_delay", "is_delivered_status", "main"]
#: Seconds between heartbeats (the watchdog's threshold is minutes).
HEARTBEAT_SECONDS = 10.0


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


class Forwarder:
    """Polls the outbox and delivers due rows to their targets; one instance per process."""

    def __init__(
        self,
        store: CaseStore,
        config: ForwarderConfig,
        *,
        delivery: DeliveryConfig | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.config = config
        # Without a delivery config only the webhook of `config` is known (older callers).
        base = delivery or DeliveryConfig.load(env={})
        self.delivery = replace(base, webhook_url=config.url)
        self._rng = rng or random.Random()
        self._last_beat = 0.0

    async def _send(self, http: aiohttp.ClientSession, item: ClaimedItem) -> Outcome:
        """One delivery attempt to the row's target; never raises for network problems."""
        kind = target_kind(item.target)
        if not self.delivery.configured(kind):
            return Outcome(False, None, f"{kind} delivery not configured")
        if kind == WEBHOOK_TARGET:
            assert self.config.url is not None
            return await send_webhook(
                http, self.config.url, self.config.token, self.config.timeout,
                item.payload, item.idempotency_key,
            )
        if kind == "whatsapp":
            return await send_whatsapp(
                http, self.delivery.whatsapp, target_address(item.target),
                item.payload, item.idempotency_key,
            )
        if kind == "email":
            return await send_email(
                self.delivery.smtp, target_address(item.target), item.payload,
                item.idempotency_key,
            )
        return Outcome(False, None, f"unknown target kind {kind}", permanent=True)

    async def _handle(self, http: aiohttp.ClientSession, item: ClaimedItem) -> None:
        """Deliver one claimed row and record the outcome."""
        outcome = await self._send(http, item)
        attempt = item.attempts + 1
        kind = target_kind(item.target)
        label = "" if kind == WEBHOOK_TARGET else f" ({kind})"
        if outcome.delivered:
            await asyncio.to_thread(self.store.mark_delivered, item.outbox_id)
            log.info(
                "case %s delivered%s (status %s, attempt %d)",
                item.reference, label, outcome.status, attempt,
            )
            return
        now = utcnow()
        error = outcome.error or "unknown error"
        deadline = item.case_created_at + timedelta(hours=self.config.give_up_after_hours)
        if now >= deadline or outcome.permanent:
            await asyncio.to_thread(
                self.store.mark_failed, item.outbox_id, error=error, next_attempt_at=now, dead=True
            )
            log.error(
                "case %s NOT delivered%s; giving up after %d attempts (%s). "
                "Staff must pass it to the hotline manually.",
                item.reference,
                label,
                attempt,
                error,
            )
            await asyncio.to_thread(
                alerts.raise_dead_letter, self.store, item.reference, item.target, attempt, error
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
            "case %s delivery failed%s: %s (attempt %d); retry in %.1f s",
            item.reference,
            label,
            error,
            attempt,
            delay,
        )

    async def run_once(self, http: aiohttp.ClientSession) -> int:
        """Claim and process one batch of due rows concurrently; return how many.

        Also writes the heartbeat and sends queued dead-letter alerts.
        """
        if time.monotonic() - self._last_beat >= HEARTBEAT_SECONDS:
            await asyncio.to_thread(self.store.beat)
            self._last_beat = time.monotonic()
        await asyncio.to_thread(
            alerts.send_due, self.store, self.delivery, (alerts.DEAD_LETTER,)
        )
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
        if not self.delivery.any_configured:
            pending = await asyncio.to_thread(self.store.pending_count)
            log.warning(
                "HOTLINE_FORWARD_URL is not set and no WhatsApp or e-mail delivery is "
                "configured: forwarding is disabled; "
                "%d case(s) stay queued until it is configured",
                pending,
            )
            await stop.wait()
            return
        kinds = [k for k in (WEBHOOK_TARGET, "whatsapp", "email") if self.delivery.configured(k)]
        where = ""
        if self.config.url:
            target = URL(self.config.url)
            where = f"; webhook at {target.scheme}://{target.host}"
        log.info(
            "forwarder started: targets %s%s (store %s)",
            ", ".join(kinds),
            where,
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


async def _amain(store: CaseStore, config: ForwarderConfig, delivery: DeliveryConfig) -> None:
    """Install signal handlers and run until SIGTERM/SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def _on_signal(signame: str) -> None:
        if not stop.is_set():
            log.info("received %s, finishing in-flight deliveries", signame)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _on_signal, sig.name)
    await Forwarder(store, config, delivery=delivery).run(stop)


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``python -m teman.cases.forwarder``; returns the exit code."""
    del argv  # configuration comes only from the environment
    from teman.infra.logs import configure

    configure(os.environ.get("LOG_LEVEL", "INFO").upper(),
              "%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = ForwarderConfig.from_env()
        delivery = DeliveryConfig.load()
        store = CaseStore.from_env()
    except ConfigError as exc:
        log.error("configuration error: %s", exc)
        return 2
    except SQLAlchemyError as exc:
        log.error("cannot open the case database: %s", type(exc).__name__)
        return 1
    try:
        asyncio.run(_amain(store, config, delivery))
    finally:
        store.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
