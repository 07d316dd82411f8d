"""Twilio WhatsApp channel that verifies X-Twilio-Signature (Rasa's built-in one does not).

Webhook: /webhooks/twilio_whatsapp/webhook. Unsigned or forged requests get 403; real
ones are acknowledged with empty TwiML at once and answered in the background through
Twilio's REST API. WhatsApp via Twilio has no native buttons without approved content
templates, so buttons become numbered choices and a reply "2" maps back to a payload.

Conversations are keyed ``tw:<keyed hash of the number>`` (see identity.py), never by
the phone number.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.common import (
    button_payload,
    button_title,
    log_id,
    require,
    safe_traceback,
    setting,
    split_text,
)
from bot.channels.dedupe import BackgroundTasks, Deduplicator, KeyedLocks
from bot.channels.http_retry import HttpSender, RetryPolicy
from bot.channels.identity import (
    TWILIO_PREFIX,
    SenderIdentity,
    identity_from_settings,
    key_setting,
)
from bot.channels.inbound import Inbound, inbound_from_env
from bot.channels.shared_state import MemoryState, SharedState, state_from_env

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.twilio.com"
BODY_LIMIT = 1600  # Twilio's maximum body length for one WhatsApp message
MAX_CHOICES = 10
UNSUPPORTED_TEXT = "Maaf, aku baru bisa membaca pesan teks. Silakan ketik pertanyaanmu ya 🙂"
CHOICE_HINT = "Balas dengan angka pilihanmu ya."
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
_CHOICE_RE = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")
CHOICES_TTL = 24 * 3600


def compute_signature(auth_token: str, url: str, params: Mapping[str, list[str]]) -> str:
    """Twilio's scheme: base64(HMAC-SHA1(token, url + sorted name+value pairs))."""
    data = url
    for name in sorted(params):
        for value in sorted(params[name]):
            data += name + value
    digest = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _url_variants(url: str) -> list[str]:
    """The URL as given plus with/without the default port (Twilio may sign either)."""
    parts = urlsplit(url)
    variants = [url]
    default_port = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    if default_port is None or not host:
        return variants
    if parts.port is None:
        netloc = f"{host}:{default_port}"
    elif parts.port == default_port:
        netloc = host
    else:
        return variants
    if parts.username:
        netloc = f"{parts.username}:{parts.password or ''}@{netloc}"
    variants.append(urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)))
    return variants


def verify_signature(
    auth_token: str, url: str, params: Mapping[str, list[str]], signature: str | None
) -> bool:
    """Constant-time check of X-Twilio-Signature for a form POST."""
    if not signature or not auth_token:
        return False
    return any(
        hmac.compare_digest(compute_signature(auth_token, candidate, params), signature.strip())
        for candidate in _url_variants(url)
    )


def render_choices(text: str, buttons: list[dict[str, Any]]) -> str:
    """Text plus "1. …\\n2. …" so users can answer with a number."""
    lines = [f"{i}. {button_title(b)}" for i, b in enumerate(buttons, start=1)]
    parts = [p for p in ((text or "").strip(), "\n".join(lines), CHOICE_HINT) if p]
    return "\n\n".join(parts)


class Choices:
    """The payloads of the numbered choices last sent to each sender id (24 h), in the
    shared state so that the user's "2" may reach any replica."""

    def __init__(self, state: SharedState) -> None:
        self.state = state

    async def set(self, user: str, payloads: list[str]) -> None:
        await self.state.put(f"tw:choices:{user}", json.dumps(payloads), CHOICES_TTL)

    async def get(self, user: str) -> list[str] | None:
        raw = await self.state.get(f"tw:choices:{user}")
        return list(json.loads(raw)) if raw else None

    async def pop(self, user: str) -> None:
        await self.state.release(f"tw:choices:{user}")


class TwilioSignedOutput(OutputChannel):
    """Sends WhatsApp messages through Twilio's Messages REST endpoint.

    ``recipient_id`` is always a ``tw:`` sender id. The number comes from ``bound`` (the
    user of the message being answered) or, for proactive sends, from the sender map.
    """

    @classmethod
    def name(cls) -> str:
        return "twilio_whatsapp"

    def __init__(
        self,
        api_url: str,
        account_sid: str,
        auth_token: str,
        from_number: str,
        sender: HttpSender,
        choices: Choices,
        identity: SenderIdentity,
        bound: tuple[str, str] | None = None,
    ) -> None:
        self.url = f"{api_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self.auth = aiohttp.BasicAuth(account_sid, auth_token)
        self.from_number = from_number
        self.sender = sender
        self.choices = choices
        self.identity = identity
        self._bound = bound

    async def _number(self, recipient_id: str) -> str | None:
        """The ``whatsapp:+…`` address behind ``recipient_id``, or None (then dropped)."""
        if self._bound and recipient_id == self._bound[0]:
            return self._bound[1]
        if not self.identity.owns(recipient_id):
            logger.warning("twilio: recipient %s is not a Twilio sender id; message dropped",
                           log_id(recipient_id))
            return None
        number = await self.identity.number_for(recipient_id)
        if number is None:
            logger.warning("twilio: no number known for %s (expired or never seen); "
                           "message dropped", log_id(recipient_id))
            return None
        self._bound = (recipient_id, number)
        return number

    async def _post(self, recipient_id: str, fields: dict[str, str]) -> bool:
        number = await self._number(recipient_id)
        if number is None:
            return False
        result = await self.sender.post(
            self.url,
            data={"From": self.from_number, "To": number, **fields},
            auth=self.auth,
            log_name=f"twilio send to {log_id(recipient_id)}",
        )
        return result.ok

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for chunk in split_text(text, BODY_LIMIT):
            await self._post(recipient_id, {"Body": chunk})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        buttons = [b for b in buttons if button_title(b)][:MAX_CHOICES]
        if not buttons:
            await self.send_text_message(recipient_id, text or "")
            return
        if await self._number(recipient_id) is None:
            return
        await self.choices.set(recipient_id, [button_payload(b) for b in buttons])
        await self.send_text_message(recipient_id, render_choices(text, buttons))

    async def send_quick_replies(
        self, recipient_id: str, text: str, quick_replies: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._post(recipient_id, {"MediaUrl": image})


class TwilioSignedInput(InputChannel):
    """Twilio WhatsApp input channel (``bot.channels.twilio_signed.TwilioSignedInput``)."""

    @classmethod
    def name(cls) -> str:
        return "twilio_whatsapp"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> TwilioSignedInput:
        """Read config from env vars (plus ``SENDER_ID_KEY``, see identity.py)."""
        values = {
            "TWILIO_ACCOUNT_SID": setting(credentials, "account_sid", "TWILIO_ACCOUNT_SID"),
            "TWILIO_AUTH_TOKEN": setting(credentials, "auth_token", "TWILIO_AUTH_TOKEN"),
            "TWILIO_WHATSAPP_NUMBER": setting(credentials, "whatsapp_number",
                                              "TWILIO_WHATSAPP_NUMBER"),
            "SENDER_ID_KEY": key_setting(credentials),
        }
        require(cls.name(), values)
        identity = identity_from_settings(cls.name(), TWILIO_PREFIX, credentials)
        number = values["TWILIO_WHATSAPP_NUMBER"] or ""
        if not number.startswith("whatsapp:"):
            number = f"whatsapp:{number}"
        retry = RetryPolicy(
            base_delay=float(setting(credentials, "retry_base_delay",
                                     "TWILIO_RETRY_BASE_DELAY", "0.5") or 0.5),
        )
        return cls(
            account_sid=values["TWILIO_ACCOUNT_SID"] or "",
            auth_token=values["TWILIO_AUTH_TOKEN"] or "",
            whatsapp_number=number,
            api_url=setting(credentials, "api_url", "TWILIO_API_URL", DEFAULT_API_URL)
            or DEFAULT_API_URL,
            webhook_url=setting(credentials, "webhook_url", "TWILIO_WEBHOOK_URL"),
            retry_policy=retry,
            identity=identity,
            state=state_from_env(),
            inbound_secret=values["SENDER_ID_KEY"],
        )

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        whatsapp_number: str,
        api_url: str = DEFAULT_API_URL,
        webhook_url: str | None = None,
        retry_policy: RetryPolicy | None = None,
        *,
        identity: SenderIdentity,
        state: SharedState | None = None,
        inbound_secret: str | None = None,
    ) -> None:
        if identity.prefix != TWILIO_PREFIX:
            raise ValueError("TwilioSignedInput needs an identity with the 'tw:' prefix")
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.whatsapp_number = whatsapp_number
        self.api_url = api_url
        self.webhook_url = webhook_url
        self.identity = identity
        self.sender = HttpSender(retry_policy)
        self.state: SharedState = state if state is not None else MemoryState()
        self.dedupe = Deduplicator(self.state, ttl=2 * 24 * 3600, namespace="tw:seen")
        self.choices = Choices(self.state)
        self.tasks = BackgroundTasks()
        self.locks = KeyedLocks()
        # Acknowledged messages wait here (RabbitMQ when RABBITMQ_URL is set).
        self.inbound: Inbound = inbound_from_env(self.name(), self.tasks,
                                                 inbound_secret or auth_token)

    def get_output_channel(self, bound: tuple[str, str] | None = None) -> TwilioSignedOutput:
        """Output channel; Rasa calls it without ``bound`` for proactive messages."""
        return TwilioSignedOutput(self.api_url, self.account_sid, self.auth_token,
                                  self.whatsapp_number, self.sender, self.choices,
                                  self.identity, bound)

    def signing_url(self, request: Request) -> str:
        """Public URL Twilio signed: TWILIO_WEBHOOK_URL behind a proxy, else request URL."""
        if self.webhook_url:
            if request.query_string and "?" not in self.webhook_url:
                return f"{self.webhook_url}?{request.query_string}"
            return self.webhook_url
        return request.url

    async def map_choice(self, user: str, text: str) -> str:
        """A bare number answering our last numbered list becomes that button's payload.

        ``user`` is the sender id; any other text is returned unchanged.
        """
        match = _CHOICE_RE.match(text)
        if not match:
            return text
        payloads = await self.choices.get(user)
        if not payloads:
            return text
        index = int(match.group(1)) - 1
        if 0 <= index < len(payloads):
            await self.choices.pop(user)
            return payloads[index]
        return text

    async def _handle(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]], form: dict[str, str]
    ) -> None:
        number = form.get("From", "")
        user = self.identity.sender_id(number)  # the tracker key: never the number
        who = log_id(user)
        async with self.locks.hold(user):
            # Store the (encrypted) number for proactive messages while the bot answers;
            # the answer itself goes to the number bound to this request's output.
            remembered = asyncio.ensure_future(self.identity.remember(user, number))
            try:
                out = self.get_output_channel(bound=(user, number))
                # Passed on exactly as typed: "/…" is ordinary text, never an intent.
                text = form.get("ButtonPayload") or form.get("Body") or ""
                if not text.strip():
                    logger.info("twilio: non-text message (media=%s) from %s",
                                form.get("NumMedia", "0"), who)
                    await out.send_text_message(user, UNSUPPORTED_TEXT)
                    return
                text = await self.map_choice(user, text)
                await on_new_message(UserMessage(
                    text, out, user, input_channel=self.name(),
                    message_id=form.get("MessageSid") or None,
                    metadata={"channel": self.name()},
                ))
            except Exception as exc:  # background task: log, never crash the server
                logger.error("twilio: failed to handle message from %s: %s", who,
                             type(exc).__name__)
                logger.debug("twilio: %s", safe_traceback(exc))
            finally:
                await remembered  # never raises

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint(f"twilio_whatsapp_webhook_{id(self)}", __name__)

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            # Parse the raw body ourselves: Twilio signs blank values too (e.g. Body=
            # on media messages) and Sanic's request.form drops them.
            try:
                params = parse_qs((request.body or b"").decode("utf-8"),
                                  keep_blank_values=True)
            except UnicodeDecodeError:
                params = {}
            url = self.signing_url(request)
            if not verify_signature(self.auth_token, url, params,
                                    request.headers.get("X-Twilio-Signature")):
                logger.warning("twilio: rejected webhook with missing/invalid signature")
                return response.text("invalid signature", status=403)
            form = {k: v[0] for k, v in params.items() if v}
            if not form.get("From"):
                logger.info("twilio: signed request without sender ignored")
            elif await self.dedupe.first_time(form.get("MessageSid")):
                try:  # durable before the 200
                    await self.inbound.submit(self.identity.sender_id(form["From"]), form)
                except Exception as exc:
                    logger.error("twilio: could not queue a message (%s); asking Twilio "
                                 "to deliver again", type(exc).__name__)
                    await self.dedupe.forget(form.get("MessageSid"))
                    return response.text("retry later", status=503)
            else:
                logger.info("twilio: duplicate delivery of a message ignored")
            return response.text(EMPTY_TWIML, content_type="text/xml")

        @bp.listener("after_server_start")
        async def start_inbound(*_: Any) -> None:
            async def handle(form: dict[str, Any]) -> None:
                await self._handle(on_new_message, form)

            await self.inbound.start(handle)

        @bp.listener("after_server_stop")
        async def close_session(*_: Any) -> None:
            await self.inbound.close()
            await self.tasks.drain(timeout=5)
            await self.sender.close()
            await self.state.close()
            self.identity.map.close()

        return bp
