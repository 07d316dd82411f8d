"""One delivery attempt per target kind: the hotline webhook, a WhatsApp template message to
a staff number, an e-mail to a staff address (and alert e-mails).

Each sender returns an :class:`Outcome` and never raises for network or protocol errors.
None of these protocols is idempotent end to end, so every attempt for one outbox row carries
the row's dedupe key: the webhook's ``Idempotency-Key`` header, the WhatsApp message's
``biz_opaque_callback_data``, the e-mail's ``Message-ID`` (and a line in the body). Errors
are short and personal-data free (status codes, SMTP codes, exception class names).
"""

from __future__ import annotations

import asyncio
import json
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

import aiohttp

from .staff_message import Mail, case_email, whatsapp_parameters
from .targets import SmtpSettings, WhatsAppDelivery

USER_AGENT = "teman-migrasi-forwarder/1"
MESSAGE_ID_DOMAIN = "teman-migrasi"


@dataclass(frozen=True)
class Outcome:
    """Result of one attempt: delivered or not, plus a short personal-data-free reason.

    ``permanent`` marks an answer no retry can change (a rejected template or recipient):
    the row goes to the dead-letter state at once and staff are alerted.
    """

    delivered: bool
    status: int | None
    error: str | None
    permanent: bool = False


def is_delivered_status(status: int) -> bool:
    """2xx, or 409 meaning 'already have this Idempotency-Key'."""
    return 200 <= status < 300 or status == 409


async def _post_json(
    http: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
) -> tuple[int | None, str | None]:
    """POST and return (status, None) or (None, error)."""
    try:
        async with http.post(
            url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as resp:
            await resp.read()  # drained so the connection can be reused; never logged
            return resp.status, None
    except asyncio.TimeoutError:  # not the builtin TimeoutError on Python 3.10
        return None, "timeout"
    except aiohttp.ClientConnectorError as exc:
        return None, f"connection failed ({type(exc).__name__})"
    except aiohttp.ClientError as exc:
        return None, f"client error ({type(exc).__name__})"


async def send_webhook(
    http: aiohttp.ClientSession,
    url: str,
    token: str | None,
    timeout: float,
    payload: str,
    dedupe_key: str,
) -> Outcome:
    """POST the JSON payload to the hotline endpoint (2xx or 409 = delivered)."""
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": dedupe_key,
        "User-Agent": USER_AGENT,
    }
    if token:
        headers["Authorization"] = f"Bearer {token}"
    status, error = await _post_json(http, url, payload.encode("utf-8"), headers, timeout)
    if status is None:
        return Outcome(False, None, error)
    if is_delivered_status(status):
        return Outcome(True, status, None)
    return Outcome(False, status, f"HTTP {status}")


def whatsapp_body(config: WhatsAppDelivery, number: str, payload: str, dedupe_key: str) -> dict:
    """A Cloud API template message to one staff number."""
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": number,
        "type": "template",
        "template": {
            "name": config.template,
            "language": {"code": config.language},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": value} for value in whatsapp_parameters(payload)
                    ],
                }
            ],
        },
        # Echoed back in Meta's status webhooks: ties a message to its outbox row.
        "biz_opaque_callback_data": dedupe_key,
    }


async def send_whatsapp(
    http: aiohttp.ClientSession,
    config: WhatsAppDelivery,
    number: str,
    payload: str,
    dedupe_key: str,
) -> Outcome:
    """Send the case as a template message; 2xx = accepted by Meta for delivery.

    400 (bad template or parameters) and 404 (unknown sender number) are permanent; 401
    (expired token), 429 and 5xx are retried.
    """
    url = f"{config.api_url}/{config.phone_number_id}/messages"
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {config.access_token}",
        "User-Agent": USER_AGENT,
    }
    body = json.dumps(whatsapp_body(config, number, payload, dedupe_key)).encode("utf-8")
    status, error = await _post_json(http, url, body, headers, config.timeout)
    if status is None:
        return Outcome(False, None, error)
    if 200 <= status < 300:
        return Outcome(True, status, None)
    return Outcome(False, status, f"HTTP {status}", permanent=status in (400, 404))


def _smtp_context(smtp: SmtpSettings) -> ssl.SSLContext:
    """Certificate-verifying TLS; SMTP_CA_FILE adds a private server's CA."""
    return ssl.create_default_context(cafile=smtp.ca_file)


def send_mail_sync(
    smtp: SmtpSettings, to: Sequence[str], mail: Mail, message_id: str
) -> None:
    """Send one plain-text e-mail (STARTTLS + AUTH as configured); raises smtplib errors."""
    msg = EmailMessage()
    msg["From"] = smtp.sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = mail.subject
    msg["Date"] = formatdate(usegmt=True)
    # The same id for every retry: mail clients and servers can fold duplicates.
    msg["Message-ID"] = f"<{message_id}@{MESSAGE_ID_DOMAIN}>"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(mail.body)
    assert smtp.host is not None
    context = _smtp_context(smtp)
    client: smtplib.SMTP
    if smtp.ssl:
        client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout, context=context)
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    with client:
        if smtp.starttls and not smtp.ssl:
            client.starttls(context=context)
        if smtp.username:
            client.login(smtp.username, smtp.password or "")
        client.send_message(msg, to_addrs=list(to))


def smtp_outcome(exc: BaseException) -> Outcome:
    """Classify an e-mail failure: refused recipients/sender and 5xx data are permanent."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return Outcome(False, None, "SMTP recipient refused", permanent=True)
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return Outcome(False, exc.smtp_code, f"SMTP {exc.smtp_code} sender refused",
                       permanent=exc.smtp_code >= 500)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return Outcome(False, exc.smtp_code, f"SMTP {exc.smtp_code} authentication failed")
    if isinstance(exc, smtplib.SMTPResponseException):
        return Outcome(False, exc.smtp_code, f"SMTP {exc.smtp_code}",
                       permanent=isinstance(exc, smtplib.SMTPDataError) and exc.smtp_code >= 500)
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return Outcome(False, None, "timeout")
    return Outcome(False, None, f"SMTP failed ({type(exc).__name__})")


async def send_email(
    smtp: SmtpSettings, address: str, payload: str, dedupe_key: str
) -> Outcome:
    """Send the case to one staff address (smtplib in a worker thread)."""
    mail = case_email(payload, dedupe_key)
    try:
        await asyncio.to_thread(send_mail_sync, smtp, [address], mail, dedupe_key)
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        return smtp_outcome(exc)
    return Outcome(True, 250, None)
