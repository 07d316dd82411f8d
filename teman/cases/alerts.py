"""Alert e-mails to staff: a dead-lettered delivery, or a forwarder that stopped.

A line in a list is not enough when a report of trafficking did not reach SI-SAGA, so both
events queue an alert (table ``delivery_alerts``, once per event) and e-mail it to
``ALERT_EMAIL_TO`` over the same SMTP server as case e-mails, retried until accepted. The
forwarder sends dead-letter alerts; the decision service runs :func:`watch`, which notices a
forwarder whose heartbeat is older than ``FORWARDER_STALE_AFTER`` and sends that alert itself
(the forwarder cannot). ``make cases ARGS="health"`` shows both, sent or not.
"""

from __future__ import annotations

import asyncio
import json
import logging
import smtplib
import ssl
from collections.abc import Sequence
from datetime import datetime, timedelta

from .models import utcnow
from .senders import send_mail_sync
from .staff_message import alert_email, local_time
from .store import CaseStore
from .targets import DeliveryConfig

log = logging.getLogger("teman_migrasi.cases.alerts")

DEAD_LETTER = "dead_letter"
FORWARDER_DOWN = "forwarder_down"
ALERT_LEASE_SECONDS = 120.0
ALERT_RETRY_SECONDS = 60.0
_warned_unconfigured = False


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def raise_dead_letter(
    store: CaseStore, reference: str, target: str, attempts: int, error: str
) -> bool:
    """Queue the alert for one dead-lettered delivery (once per dead-lettering)."""
    detail = {"reference": reference, "target": target, "attempts": attempts, "error": error}
    return store.raise_alert(
        DEAD_LETTER, f"{reference} {target} {_iso(utcnow())}", json.dumps(detail)
    )


def send_due(store: CaseStore, delivery: DeliveryConfig, kinds: Sequence[str]) -> int:
    """E-mail the queued alerts of these kinds; returns how many were sent."""
    global _warned_unconfigured
    if not delivery.alert_to or not delivery.smtp.ready:
        if not _warned_unconfigured and store.alerts(unsent_only=True, limit=1):
            log.error(
                "alerts are queued but ALERT_EMAIL_TO / SMTP_HOST are not set: "
                "staff get no e-mail; see `make cases ARGS=health`"
            )
            _warned_unconfigured = True
        return 0
    sent = 0
    for alert in store.claim_alerts(kinds, lease_seconds=ALERT_LEASE_SECONDS):
        mail = alert_email(alert.kind, **json.loads(alert.detail))
        error: str | None = None
        try:
            send_mail_sync(delivery.smtp, delivery.alert_to, mail, f"alert-{alert.id}")
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            error = f"{type(exc).__name__}"
        store.mark_alert(
            alert.id, error=error, retry_at=utcnow() + timedelta(seconds=ALERT_RETRY_SECONDS)
        )
        if error is None:
            sent += 1
            log.info("alert %s (%s) e-mailed to staff", alert.id, alert.kind)
        else:
            log.error("alert %s (%s) could not be e-mailed: %s", alert.id, alert.kind, error)
    return sent


def check_forwarder(
    store: CaseStore, delivery: DeliveryConfig, now: datetime | None = None
) -> bool:
    """Queue (and send) a forwarder-down alert when the heartbeat is stale; True if stale.

    Stale: a heartbeat older than ``stale_after`` seconds, or none at all while a case has
    waited longer than that. One alert per outage (keyed by the last heartbeat).
    """
    now = now or utcnow()
    limit = timedelta(seconds=delivery.stale_after)
    last = store.last_beat()
    if last is not None:
        stale = now - last > limit
    else:
        oldest = store.oldest_pending()
        stale = oldest is not None and now - oldest > limit
    if stale:
        detail = {
            "last_seen": local_time(_iso(last)) if last else "(belum pernah)",
            "pending": store.pending_count(),
        }
        if store.raise_alert(FORWARDER_DOWN, _iso(last) if last else "never", json.dumps(detail)):
            log.error("the forwarder has stopped (last heartbeat %s): alerting staff",
                      _iso(last) if last else "never")
    send_due(store, delivery, (FORWARDER_DOWN,))
    return stale


async def watch(store: CaseStore, delivery: DeliveryConfig) -> None:
    """Check the forwarder every ``check_interval`` seconds until cancelled."""
    while True:
        try:
            await asyncio.to_thread(check_forwarder, store, delivery)
        except Exception:  # a database hiccup must not end the watch
            log.exception("forwarder check failed; trying again")
        await asyncio.sleep(delivery.check_interval)


async def watch_from_env() -> None:
    """:func:`watch` with the store and delivery settings of the environment (the decision
    service runs this next to its retention loop)."""
    try:
        delivery = DeliveryConfig.load()
        store = await asyncio.to_thread(CaseStore.from_env)
    except Exception:
        log.exception("forwarder watch not started: cannot read the settings or the database")
        return
    try:
        await watch(store, delivery)
    finally:
        store.dispose()
