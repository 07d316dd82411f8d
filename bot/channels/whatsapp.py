"""WhatsApp Cloud API channel (Meta Graph API) for the Rasa server.

Webhook: /webhooks/whatsapp/webhook. GET answers Meta's verification handshake; POST
is checked against X-Hub-Signature-256, acknowledged at once (Meta retries slow
webhooks) and processed in the background, once per message id.

Conversations are keyed ``wa:<keyed hash of the number>`` (see identity.py), never by
the phone number; replies find the number through the request's output channel or,
for proactive messages, through the encrypted sender map.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

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
    truncate,
)
from bot.channels.dedupe import BackgroundTasks, Deduplicator, KeyedLocks
from bot.channels.http_retry import HttpSender, RetryPolicy
from bot.channels.identity import (
    WHATSAPP_PREFIX,
    SenderIdentity,
    identity_from_settings,
    key_setting,
)
from bot.channels.inbound import Inbound, inbound_from_env
from bot.channels.media import ImageReader
from bot.channels.shared_state import MemoryState, SharedState, state_from_env

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://graph.facebook.com/v21.0"
TEXT_LIMIT = 4096
INTERACTIVE_BODY_LIMIT = 1024
REPLY_BUTTON_MAX = 3
REPLY_TITLE_LIMIT = 20
REPLY_ID_LIMIT = 256
LIST_ROW_MAX = 10
LIST_TITLE_LIMIT = 24
LIST_DESCRIPTION_LIMIT = 72
LIST_ROW_ID_LIMIT = 200
SERVICE_WINDOW_SECONDS = 24 * 3600

UNSUPPORTED_TEXT = (
    "Maaf, aku baru bisa membaca pesan teks dan foto/tangkapan layar iklan lowongan. "
    "Silakan ketik pertanyaanmu ya 🙂"
)
CHOOSE_TEXT = "Pilih salah satu ya:"
LIST_BUTTON_LABEL = "Lihat pilihan"


def _dicts(value: Any) -> list[dict[str, Any]]:
    """Only the dict items of a list: webhook payloads are untrusted input."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def verify_signature(app_secret: str, body: bytes, header: str | None) -> bool:
    """Check ``X-Hub-Signature-256: sha256=<hex>`` over the raw body (constant time)."""
    if not header or not app_secret:
        return False
    method, _, received = header.strip().partition("=")
    if method.lower() != "sha256" or not received:
        return False
    expected = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, received.strip().lower())


def _reply_to_text(reply: dict[str, Any]) -> str | None:
    """Button/list reply -> Rasa input: the id (= the button's payload), else the title."""
    reply_id = str(reply.get("id") or reply.get("payload") or "").strip()
    if reply_id:
        return reply_id
    title = str(reply.get("title") or reply.get("text") or "").strip()
    return title or None


def extract_text(message: dict[str, Any]) -> str | None:
    """Text to hand to Rasa for a supported message, or None for unsupported types."""
    kind = message.get("type")
    if kind == "text":
        return (message.get("text") or {}).get("body") or None
    if kind == "interactive":
        interactive = message.get("interactive") or {}
        reply = interactive.get("button_reply") or interactive.get("list_reply")
        return _reply_to_text(reply) if reply else None
    if kind == "button":  # quick-reply button on a template (e.g. the hand-off follow-up)
        return _reply_to_text(message.get("button") or {})
    return None


class ServiceWindow:
    """Remembers each user's last inbound message to respect WhatsApp's 24-hour rule.

    Outside the window Meta only accepts pre-approved template messages. The times live
    in the shared state (Redis with several replicas), keyed by sender id.
    """

    def __init__(self, state: SharedState | None = None,
                 window: float = SERVICE_WINDOW_SECONDS) -> None:
        self.window = window
        self.state: SharedState = state if state is not None else MemoryState()

    async def record_inbound(self, user: str, at: float | None = None) -> None:
        now = time.time()
        at = now if at is None else min(at, now)
        await self.state.raise_to(f"win:last:{user}", at, self.window * 2)
        await self.state.release(f"win:tpl:{user}")

    async def is_open(self, user: str) -> bool:
        last = await self.state.get(f"win:last:{user}")
        return last is not None and time.time() - float(last) < self.window

    async def claim_template(self, user: str) -> bool:
        """True once per closed window: one template invites the user back, no spam."""
        return await self.state.claim(f"win:tpl:{user}", self.window * 2)


class WhatsAppOutput(OutputChannel):
    """Sends replies through the Graph API ``/{phone_number_id}/messages`` endpoint.

    ``recipient_id`` is always a ``wa:`` sender id. The number comes from ``bound`` (the
    user of the message being answered) or, for proactive sends, from the sender map.
    """

    @classmethod
    def name(cls) -> str:
        return "whatsapp"

    def __init__(
        self,
        api_url: str,
        phone_number_id: str,
        access_token: str,
        sender: HttpSender,
        window: ServiceWindow,
        identity: SenderIdentity,
        template_name: str | None = None,
        template_lang: str = "id",
        bound: tuple[str, str] | None = None,
    ) -> None:
        self.url = f"{api_url.rstrip('/')}/{phone_number_id}/messages"
        self.access_token = access_token
        self.sender = sender
        self.window = window
        self.identity = identity
        self.template_name = template_name
        self.template_lang = template_lang
        self._bound = bound

    async def _number(self, recipient_id: str) -> str | None:
        """The phone number behind ``recipient_id``, or None (message is then dropped)."""
        if self._bound and recipient_id == self._bound[0]:
            return self._bound[1]
        if not self.identity.owns(recipient_id):
            logger.warning("whatsapp: recipient %s is not a WhatsApp sender id; message "
                           "dropped", log_id(recipient_id))
            return None
        number = await self.identity.number_for(recipient_id)
        if number is None:
            logger.warning("whatsapp: no number known for %s (expired or never seen); "
                           "message dropped", log_id(recipient_id))
            return None
        self._bound = (recipient_id, number)
        return number

    async def _post(self, recipient_id: str, number: str, payload: dict[str, Any]) -> bool:
        body = {"messaging_product": "whatsapp", "recipient_type": "individual",
                "to": number, **payload}
        result = await self.sender.post(
            self.url,
            json=body,
            headers={"Authorization": f"Bearer {self.access_token}"},
            log_name=f"whatsapp send {payload.get('type')} to {log_id(recipient_id)}",
        )
        return result.ok

    async def _send(self, recipient_id: str, payload: dict[str, Any]) -> bool:
        """Send ``payload``, or the hand-off template when the 24 h window is closed."""
        number = await self._number(recipient_id)
        if number is None:
            return False
        if await self.window.is_open(recipient_id):
            return await self._post(recipient_id, number, payload)
        if not self.template_name:
            logger.error(
                "whatsapp: 24h window closed for %s and WHATSAPP_HANDOFF_TEMPLATE is not "
                "set; message dropped", log_id(recipient_id),
            )
            return False
        if not await self.window.claim_template(recipient_id):
            logger.info("whatsapp: template already sent to %s in this closed window",
                        log_id(recipient_id))
            return False
        logger.info("whatsapp: 24h window closed for %s, sending template",
                    log_id(recipient_id))
        return await self._post(
            recipient_id,
            number,
            {"type": "template",
             "template": {"name": self.template_name,
                          "language": {"code": self.template_lang}}},
        )

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for chunk in split_text(text, TEXT_LIMIT):
            await self._send(recipient_id, {"type": "text",
                                            "text": {"body": chunk, "preview_url": False}})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        buttons = [b for b in buttons if button_title(b)][:LIST_ROW_MAX]
        if not buttons:
            await self.send_text_message(recipient_id, text)
            return
        text = (text or "").strip()
        body = text
        if not text or len(text) > INTERACTIVE_BODY_LIMIT:
            # Interactive bodies are capped at 1024 chars: send the long text first.
            if text:
                await self.send_text_message(recipient_id, text)
            body = CHOOSE_TEXT
        await self._send(recipient_id, {"type": "interactive",
                                        "interactive": build_interactive(body, buttons)})

    async def send_quick_replies(
        self, recipient_id: str, text: str, quick_replies: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._send(recipient_id, {"type": "image", "image": {"link": image}})

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        """A ``custom`` response is sent as a raw Cloud API message (must have ``type``)."""
        payload = dict(json_message.get("whatsapp", json_message))
        if "type" not in payload:
            logger.warning("whatsapp: custom payload without 'type' ignored")
            return
        payload.pop("to", None)
        await self._send(recipient_id, payload)


def build_interactive(body: str, buttons: list[dict[str, Any]]) -> dict[str, Any]:
    """≤3 buttons -> reply buttons, 4–10 -> a list message (Meta's limits)."""
    if len(buttons) <= REPLY_BUTTON_MAX:
        seen: set[str] = set()
        rows = []
        for b in buttons:
            reply_id = button_payload(b)[:REPLY_ID_LIMIT]
            if reply_id in seen:  # Meta rejects duplicate ids in one message.
                continue
            seen.add(reply_id)
            rows.append({"type": "reply", "reply": {
                "id": reply_id, "title": truncate(button_title(b), REPLY_TITLE_LIMIT)}})
        return {"type": "button", "body": {"text": body}, "action": {"buttons": rows}}
    rows = []
    seen = set()
    for b in buttons[:LIST_ROW_MAX]:
        row_id = button_payload(b)[:LIST_ROW_ID_LIMIT]
        if row_id in seen:
            continue
        seen.add(row_id)
        title = button_title(b)
        row: dict[str, Any] = {"id": row_id, "title": truncate(title, LIST_TITLE_LIMIT)}
        description = b.get("description") or (title if len(title) > LIST_TITLE_LIMIT else "")
        if description:
            row["description"] = truncate(str(description), LIST_DESCRIPTION_LIMIT)
        rows.append(row)
    return {
        "type": "list",
        "body": {"text": body},
        "action": {"button": LIST_BUTTON_LABEL,
                   "sections": [{"title": "Pilihan", "rows": rows}]},
    }


class WhatsAppInput(InputChannel):
    """WhatsApp Cloud API input channel (``bot.channels.whatsapp.WhatsAppInput``)."""

    @classmethod
    def name(cls) -> str:
        return "whatsapp"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WhatsAppInput:
        """Read config from env vars; non-empty credentials.yml keys override them.

        Needs ``SENDER_ID_KEY`` too (pseudonymous sender ids, see identity.py).
        """
        values = {
            "WHATSAPP_VERIFY_TOKEN": setting(credentials, "verify_token",
                                             "WHATSAPP_VERIFY_TOKEN"),
            "WHATSAPP_APP_SECRET": setting(credentials, "app_secret", "WHATSAPP_APP_SECRET"),
            "WHATSAPP_ACCESS_TOKEN": setting(credentials, "access_token",
                                             "WHATSAPP_ACCESS_TOKEN"),
            "WHATSAPP_PHONE_NUMBER_ID": setting(credentials, "phone_number_id",
                                                "WHATSAPP_PHONE_NUMBER_ID"),
            "SENDER_ID_KEY": key_setting(credentials),
        }
        require(cls.name(), values)
        identity = identity_from_settings(cls.name(), WHATSAPP_PREFIX, credentials)
        retry = RetryPolicy(
            base_delay=float(setting(credentials, "retry_base_delay",
                                     "WHATSAPP_RETRY_BASE_DELAY", "0.5") or 0.5),
        )
        return cls(
            verify_token=values["WHATSAPP_VERIFY_TOKEN"] or "",
            app_secret=values["WHATSAPP_APP_SECRET"] or "",
            access_token=values["WHATSAPP_ACCESS_TOKEN"] or "",
            phone_number_id=values["WHATSAPP_PHONE_NUMBER_ID"] or "",
            api_url=setting(credentials, "api_url", "WHATSAPP_API_URL", DEFAULT_API_URL)
            or DEFAULT_API_URL,
            template_name=setting(credentials, "handoff_template",
                                  "WHATSAPP_HANDOFF_TEMPLATE"),
            template_lang=setting(credentials, "template_lang", "WHATSAPP_TEMPLATE_LANG",
                                  "id") or "id",
            retry_policy=retry,
            identity=identity,
            state=state_from_env(),
            inbound_secret=values["SENDER_ID_KEY"],
        )

    def __init__(
        self,
        verify_token: str,
        app_secret: str,
        access_token: str,
        phone_number_id: str,
        api_url: str = DEFAULT_API_URL,
        template_name: str | None = None,
        template_lang: str = "id",
        retry_policy: RetryPolicy | None = None,
        *,
        identity: SenderIdentity,
        state: SharedState | None = None,
        inbound_secret: str | None = None,
    ) -> None:
        if identity.prefix != WHATSAPP_PREFIX:
            raise ValueError("WhatsAppInput needs an identity with the 'wa:' prefix")
        self.verify_token = verify_token
        self.app_secret = app_secret
        self.access_token = access_token
        self.phone_number_id = phone_number_id
        self.api_url = api_url
        self.template_name = template_name
        self.template_lang = template_lang
        self.identity = identity
        self.sender = HttpSender(retry_policy)
        self.state: SharedState = state if state is not None else MemoryState()
        self.window = ServiceWindow(self.state)
        self.dedupe = Deduplicator(self.state, ttl=2 * 24 * 3600, namespace="wa:seen")
        self.tasks = BackgroundTasks()
        self.locks = KeyedLocks()
        # Acknowledged messages wait here (RabbitMQ when RABBITMQ_URL is set).
        self.inbound: Inbound = inbound_from_env(self.name(), self.tasks,
                                                 inbound_secret or app_secret)
        self.images = ImageReader()

    def get_output_channel(self, bound: tuple[str, str] | None = None) -> WhatsAppOutput:
        """Output channel; Rasa calls it without ``bound`` for proactive messages."""
        return WhatsAppOutput(
            self.api_url, self.phone_number_id, self.access_token, self.sender,
            self.window, self.identity, self.template_name, self.template_lang, bound,
        )

    async def _handle(
        self,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        message: dict[str, Any],
    ) -> None:
        """Process one inbound message; runs as a background task, never raises."""
        number = str(message.get("from") or "")
        user = self.identity.sender_id(number)  # the tracker key: never the number
        msg_id = str(message.get("id") or "")
        who = log_id(user)
        async with self.locks.hold(user):
            # Store the (encrypted) number for proactive messages while the bot answers;
            # the answer itself goes to the number bound to this request's output.
            remembered = asyncio.ensure_future(self.identity.remember(user, number))
            try:
                out = self.get_output_channel(bound=(user, number))
                text = extract_text(message)
                if message.get("type") == "image" and isinstance(message.get("image"), dict):
                    # A photo or screenshot (of a job advert): its text is the message.
                    read = await self.images.whatsapp_image(
                        self.api_url, self.access_token, message["image"])
                    if read.reply:
                        await out.send_text_message(user, read.reply)
                        return
                    text = read.text
                if text is None:
                    logger.info("whatsapp: unsupported '%s' message from %s",
                                message.get("type"), who)
                    await out.send_text_message(user, UNSUPPORTED_TEXT)
                    return
                logger.debug("whatsapp: %s message from %s", message.get("type"), who)
                await on_new_message(UserMessage(
                    text, out, user, input_channel=self.name(), message_id=msg_id or None,
                    metadata={"channel": self.name(), "message_type": message.get("type")},
                ))
            except Exception as exc:  # background task: log, never crash the server
                logger.error("whatsapp: failed to handle message from %s: %s", who,
                             type(exc).__name__)
                logger.debug("whatsapp: %s", safe_traceback(exc))
            finally:
                await remembered  # never raises

    async def _collect(self, payload: Any) -> list[dict[str, Any]]:
        """New, non-duplicate user messages in a webhook payload (statuses skipped)."""
        found: list[dict[str, Any]] = []
        if not isinstance(payload, dict):
            return found
        for entry in _dicts(payload.get("entry")):
            for change in _dicts(entry.get("changes")):
                value = change.get("value")
                if not isinstance(value, dict):
                    continue
                metadata = value.get("metadata")
                meta_id = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
                if meta_id and str(meta_id) != str(self.phone_number_id):
                    logger.debug("whatsapp: event for another phone number id skipped")
                    continue
                for message in _dicts(value.get("messages")):
                    if not message.get("from"):
                        continue
                    if not await self.dedupe.first_time(message.get("id")):
                        logger.info("whatsapp: duplicate delivery of a message ignored")
                        continue
                    try:
                        sent_at: float | None = float(message.get("timestamp"))  # type: ignore[arg-type]
                    except (TypeError, ValueError):
                        sent_at = None
                    await self.window.record_inbound(
                        self.identity.sender_id(str(message["from"])), sent_at)
                    found.append(message)
        return found

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint(f"whatsapp_webhook_{id(self)}", __name__)

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            mode = request.args.get("hub.mode")
            token = request.args.get("hub.verify_token") or ""
            if mode == "subscribe" and hmac.compare_digest(
                token.encode("utf-8"), self.verify_token.encode("utf-8")
            ):
                return response.text(request.args.get("hub.challenge") or "")
            logger.warning("whatsapp: webhook verification failed (wrong mode or token)")
            return response.text("forbidden", status=403)

        @bp.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            body = request.body or b""
            if not verify_signature(self.app_secret, body,
                                    request.headers.get("X-Hub-Signature-256")):
                logger.warning("whatsapp: rejected webhook with missing/invalid signature")
                return response.text("invalid signature", status=403)
            try:
                payload = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                logger.warning("whatsapp: signed webhook with malformed JSON ignored")
                return response.text("ok")
            try:
                messages = await self._collect(payload)
            except Exception as exc:  # never 500: Meta would re-deliver and disable us
                logger.warning("whatsapp: unexpected payload shape ignored: %s",
                               type(exc).__name__)
                messages = []
            for done, message in enumerate(messages):
                try:  # durable before the 200
                    await self.inbound.submit(
                        self.identity.sender_id(str(message["from"])), message)
                except Exception as exc:
                    logger.error("whatsapp: could not queue a message (%s); asking Meta "
                                 "to deliver again", type(exc).__name__)
                    for left in messages[done:]:
                        await self.dedupe.forget(left.get("id"))
                    return response.text("retry later", status=503)
            return response.text("ok")

        @bp.listener("after_server_start")
        async def start_inbound(*_: Any) -> None:
            async def handle(message: dict[str, Any]) -> None:
                await self._handle(on_new_message, message)

            await self.inbound.start(handle)

        @bp.listener("after_server_stop")
        async def close_session(*_: Any) -> None:
            await self.inbound.close()
            await self.tasks.drain(timeout=5)
            await self.sender.close()
            await self.state.close()
            await self.images.close()
            self.identity.map.close()

        return bp
