"""WhatsApp Cloud API channel: real Sanic server + fake Graph API."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.channels.common import ChannelConfigError, split_text
from bot.channels.http_retry import RetryPolicy
from bot.channels.identity import HASH_HEX_CHARS, WHATSAPP_PREFIX
from bot.channels.media import FAILED_REPLY
from bot.channels.pseudonym import ID_CONTEXT, channel_numbers, derive, sender_id_for
from bot.channels.rest import SafeRestInput
from bot.channels.whatsapp import UNSUPPORTED_TEXT, WhatsAppInput
from tests.bot.channel_helpers import (
    APP_SECRET,
    LONG_TEXT,
    PHONE,
    PHONE_ID,
    SENDER_KEY,
    SLASH_TEXTS,
    THREE_BUTTONS,
    TOKEN,
    VERIFY_TOKEN,
    FakeBot,
    SanicServer,
    db_bytes,
    make_identity,
)
from tests.support.fake_graph_api import FakeGraphAPI

WEBHOOK = "/webhooks/whatsapp/webhook"
ENV = {
    "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
    "WHATSAPP_APP_SECRET": APP_SECRET,
    "WHATSAPP_ACCESS_TOKEN": TOKEN,
    "WHATSAPP_PHONE_NUMBER_ID": PHONE_ID,
    "SENDER_ID_KEY": SENDER_KEY,
}
_counter = iter(range(1, 1_000_000))
NOW = str(int(time.time()))


def text_msg(body: str, msg_id: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"from": PHONE, "id": msg_id or f"wamid.IN{next(_counter)}",
            "timestamp": str(int(time.time())), "type": "text", "text": {"body": body},
            **extra}


def webhook_payload(*messages: dict[str, Any], statuses: list[Any] | None = None) -> bytes:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000000", "phone_number_id": PHONE_ID},
        "contacts": [{"profile": {"name": "Maria"}, "wa_id": PHONE}],
    }
    if messages:
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = statuses
    payload = {"object": "whatsapp_business_account",
               "entry": [{"id": "WABA_ID", "changes": [{"value": value, "field": "messages"}]}]}
    return json.dumps(payload).encode()


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class WA:
    url: str
    channel: WhatsAppInput
    http: aiohttp.ClientSession
    api: FakeGraphAPI
    bot: FakeBot
    db_path: Path

    @property
    def sid(self) -> str:
        """The tracker key of the test user PHONE."""
        return self.channel.identity.sender_id(PHONE)

    async def post(self, body: bytes, signature: str | None = "auto") -> aiohttp.ClientResponse:
        headers = {"Content-Type": "application/json"}
        if signature == "auto":
            signature = sign(body)
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
        async with self.http.post(self.url + WEBHOOK, data=body, headers=headers) as resp:
            await resp.read()
            return resp

    async def settle(self) -> None:
        await asyncio.sleep(0.05)
        await self.channel.tasks.drain()


def make_channel(api_url: str, db_path: Path) -> WhatsAppInput:
    return WhatsAppInput(
        verify_token=VERIFY_TOKEN, app_secret=APP_SECRET, access_token=TOKEN,
        phone_number_id=PHONE_ID, api_url=api_url,
        template_name="teman_migrasi_handoff",
        retry_policy=RetryPolicy(base_delay=0.01, max_delay=2),
        identity=make_identity(WHATSAPP_PREFIX, db_path),
    )


@pytest.fixture
async def wa(fake_api: FakeGraphAPI, bot: FakeBot, http: aiohttp.ClientSession,
             tmp_path: Path) -> AsyncIterator[WA]:
    db_path = tmp_path / "sender_map.db"
    channel = make_channel(fake_api.url, db_path)
    async with SanicServer([channel], bot) as url:
        yield WA(url, channel, http, fake_api, bot, db_path)


# -- configuration -------------------------------------------------------------------

def test_from_credentials_reads_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("WHATSAPP_API_URL", raising=False)
    monkeypatch.delenv("SENDER_MAP_KEY", raising=False)
    monkeypatch.setenv("SENDER_MAP_PATH", str(tmp_path / "map" / "senders.db"))
    monkeypatch.setenv("SENDER_MAP_TTL_DAYS", "7")
    channel = WhatsAppInput.from_credentials(None)
    assert channel.phone_number_id == PHONE_ID
    assert channel.api_url == "https://graph.facebook.com/v21.0"
    assert channel.template_lang == "id"
    assert channel.identity.prefix == "wa:"
    assert channel.identity.map.path == tmp_path / "map" / "senders.db"
    assert channel.identity.map.ttl_seconds == 7 * 86400
    assert not channel.identity.map.path.exists()  # created on first use only
    override = WhatsAppInput.from_credentials({"phone_number_id": "999"})
    assert override.phone_number_id == "999"


def test_from_credentials_names_missing_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ENV:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("WHATSAPP_VERIFY_TOKEN", "x")
    with pytest.raises(ChannelConfigError) as err:
        WhatsAppInput.from_credentials(None)
    message = str(err.value)
    for key in ("WHATSAPP_APP_SECRET", "WHATSAPP_ACCESS_TOKEN", "WHATSAPP_PHONE_NUMBER_ID",
                "SENDER_ID_KEY"):
        assert key in message
    assert "WHATSAPP_VERIFY_TOKEN" not in message


def test_missing_sender_id_key_fails_at_startup(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("SENDER_ID_KEY")
    with pytest.raises(ChannelConfigError, match="SENDER_ID_KEY") as err:
        WhatsAppInput.from_credentials(None)
    assert "WHATSAPP_" not in str(err.value)


@pytest.mark.parametrize("env, name", [
    ({"SENDER_ID_KEY": "short"}, "SENDER_ID_KEY"),
    ({"SENDER_MAP_KEY": "short"}, "SENDER_MAP_KEY"),
    ({"SENDER_MAP_TTL_DAYS": "zero"}, "SENDER_MAP_TTL_DAYS"),
    ({"SENDER_MAP_TTL_DAYS": "-1"}, "SENDER_MAP_TTL_DAYS"),
    ({"SENDER_MAP_TTL_DAYS": "nan"}, "SENDER_MAP_TTL_DAYS"),
])
def test_bad_identity_settings_fail_at_startup(monkeypatch: pytest.MonkeyPatch,
                                               env: dict[str, str], name: str) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ChannelConfigError, match=name):
        WhatsAppInput.from_credentials(None)


# -- verification handshake ------------------------------------------------------------

async def test_get_verification_ok(wa: WA) -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
              "hub.challenge": "1158201444"}
    async with wa.http.get(wa.url + WEBHOOK, params=params) as resp:
        assert resp.status == 200
        assert await resp.text() == "1158201444"
        assert resp.content_type == "text/plain"


@pytest.mark.parametrize("params", [
    {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
    {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
    {},
])
async def test_get_verification_forbidden(wa: WA, params: dict[str, str]) -> None:
    async with wa.http.get(wa.url + WEBHOOK, params=params) as resp:
        assert resp.status == 403
        assert "1" not in await resp.text()


# -- signatures --------------------------------------------------------------------------

async def test_post_missing_signature_403(wa: WA) -> None:
    resp = await wa.post(webhook_payload(text_msg("halo")), signature=None)
    assert resp.status == 403
    await wa.settle()
    assert wa.bot.received == [] and wa.api.requests == []


@pytest.mark.parametrize("signature", [
    "sha256=" + "0" * 64, "sha1=abc", "garbage", sign(b"other body"),
    sign(b"x", secret="wrong-secret"),
])
async def test_post_bad_signature_403(wa: WA, signature: str) -> None:
    body = webhook_payload(text_msg("halo"))
    if signature == sign(b"x", secret="wrong-secret"):
        signature = sign(body, secret="wrong-secret")
    resp = await wa.post(body, signature=signature)
    assert resp.status == 403
    await wa.settle()
    assert wa.bot.received == []


async def test_post_valid_signature_answers_in_background(wa: WA) -> None:
    resp = await wa.post(webhook_payload(text_msg("syarat jadi pmi apa saja")))
    assert resp.status == 200
    sent = await wa.api.wait_for(1)
    assert wa.bot.texts == ["syarat jadi pmi apa saja"]
    msg = wa.bot.received[0]
    assert msg.sender_id == wa.sid and msg.input_channel == "whatsapp"
    assert msg.metadata == {"channel": "whatsapp", "message_type": "text"}
    assert sent[0].phone_id == PHONE_ID
    assert sent[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent[0].json == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": PHONE,
        "type": "text",
        "text": {"body": "Jawaban untuk: syarat jadi pmi apa saja", "preview_url": False},
    }


async def test_ack_does_not_wait_for_bot(wa: WA) -> None:
    wa.bot.gate = asyncio.Event()
    resp = await asyncio.wait_for(wa.post(webhook_payload(text_msg("halo"))), timeout=2)
    assert resp.status == 200
    await asyncio.sleep(0.05)
    assert wa.bot.texts == ["halo"] and wa.api.requests == []
    assert len(wa.channel.tasks) == 1  # still running and strongly referenced
    wa.bot.gate.set()
    await wa.api.wait_for(1)


@pytest.mark.parametrize("body", [b"{not json", b"", b"\xff\xfe", b"[1, 2, 3]",
                                  b'{"entry": "oops"}', b'{"entry": [{"changes": [null]}]}'])
async def test_malformed_json_with_valid_signature_is_acked(wa: WA, body: bytes) -> None:
    resp = await wa.post(body)
    assert resp.status == 200
    await wa.settle()
    assert wa.bot.received == [] and wa.api.requests == []


# -- inbound mapping -------------------------------------------------------------------

async def test_duplicate_deliveries_answered_once(wa: WA) -> None:
    body = webhook_payload(text_msg("halo", msg_id="wamid.SAME"))
    for _ in range(3):
        assert (await wa.post(body)).status == 200
    await wa.settle()
    assert wa.bot.texts == ["halo"]
    assert len(wa.api.delivered) == 1


async def test_interactive_replies_mapped_to_payload(wa: WA) -> None:
    button = {"from": PHONE, "id": "wamid.B1", "timestamp": NOW, "type": "interactive",
              "interactive": {"type": "button_reply",
                              "button_reply": {"id": "di mana LTSA terdekat",
                                               "title": "LTSA terdekat"}}}
    list_reply = {"from": PHONE, "id": "wamid.L1", "timestamp": NOW, "type": "interactive",
                  "interactive": {"type": "list_reply",
                                  "list_reply": {"id": "pilihan 4", "title": "Pilihan 4",
                                                 "description": "x"}}}
    slash = {"from": PHONE, "id": "wamid.B2", "timestamp": NOW, "type": "interactive",
             "interactive": {"type": "button_reply",
                             "button_reply": {"id": "/affirm", "title": "Ya, teruskan"}}}
    no_id = {"from": PHONE, "id": "wamid.B3", "timestamp": NOW, "type": "interactive",
             "interactive": {"type": "button_reply",
                             "button_reply": {"id": "", "title": "KUR Penempatan"}}}
    template_button = {"from": PHONE, "id": "wamid.T1", "timestamp": NOW, "type": "button",
                       "button": {"payload": "lanjut ngobrol", "text": "Lanjut ngobrol"}}
    for message in (button, list_reply, slash, no_id, template_button):
        assert (await wa.post(webhook_payload(message))).status == 200
        await wa.settle()
    assert wa.bot.texts == ["di mana LTSA terdekat", "pilihan 4", "/affirm",
                            "KUR Penempatan", "lanjut ngobrol"]


async def test_button_round_trip_sends_payload_words(wa: WA) -> None:
    await wa.post(webhook_payload(text_msg("tiga tombol")))
    (sent,) = await wa.api.wait_for(1)
    reply = sent.json["interactive"]["action"]["buttons"][1]["reply"]
    answer = {"from": PHONE, "id": "wamid.RT", "timestamp": NOW, "type": "interactive",
              "interactive": {"type": "button_reply", "button_reply": reply}}
    await wa.post(webhook_payload(answer))
    await wa.settle()
    assert wa.bot.texts[-1] == THREE_BUTTONS[1]["payload"] == "di mana LTSA terdekat"


@pytest.mark.parametrize("typed", SLASH_TEXTS)
async def test_typed_slash_text_reaches_rasa_unchanged(wa: WA, typed: str) -> None:
    assert (await wa.post(webhook_payload(text_msg(typed)))).status == 200
    await wa.api.wait_for(1)
    (msg,) = wa.bot.received
    assert msg.text == typed
    assert msg.sender_id == wa.sid


async def test_status_events_ignored(wa: WA) -> None:
    statuses = [{"id": "wamid.OUT1", "status": "delivered", "timestamp": "1",
                 "recipient_id": PHONE}, {"id": "wamid.OUT1", "status": "read"}]
    assert (await wa.post(webhook_payload(statuses=statuses))).status == 200
    await wa.settle()
    assert wa.bot.received == [] and wa.api.requests == []


@pytest.mark.parametrize("kind, content", [
    ("audio", {"id": "MEDIA2", "voice": True}),
    ("sticker", {"id": "MEDIA3"}),
    ("location", {"latitude": -10.17, "longitude": 123.6}),
    ("document", {"id": "MEDIA4", "filename": "kontrak.pdf"}),
])
async def test_unsupported_media_gets_friendly_text(wa: WA, kind: str,
                                                    content: dict[str, Any]) -> None:
    message = {"from": PHONE, "id": f"wamid.{kind}", "timestamp": NOW, "type": kind,
               kind: content}
    assert (await wa.post(webhook_payload(message))).status == 200
    sent = await wa.api.wait_for(1)
    await wa.settle()
    assert wa.bot.received == []
    assert sent[0].json["text"]["body"] == UNSUPPORTED_TEXT


async def test_image_that_cannot_be_downloaded_gets_a_friendly_reply(wa: WA) -> None:
    """Meta does not know the media id (404): the user is told, nothing reaches Rasa."""
    message = {"from": PHONE, "id": "wamid.img404", "timestamp": NOW, "type": "image",
               "image": {"id": "NO-SUCH-MEDIA", "mime_type": "image/jpeg"}}
    assert (await wa.post(webhook_payload(message))).status == 200
    sent = await wa.api.wait_for(1)
    await wa.settle()
    assert wa.bot.received == []
    assert sent[0].json["text"]["body"] == FAILED_REPLY


async def test_image_caption_is_read_when_the_image_cannot_be(wa: WA) -> None:
    message = {"from": PHONE, "id": "wamid.imgcap", "timestamp": NOW, "type": "image",
               "image": {"id": "NO-SUCH-MEDIA", "caption": "lowongan ini asli?"}}
    assert (await wa.post(webhook_payload(message))).status == 200
    await wa.settle()
    assert [m.text for m in wa.bot.received] == ["lowongan ini asli?"]


async def test_other_phone_number_id_ignored(wa: WA) -> None:
    body = webhook_payload(text_msg("halo")).replace(PHONE_ID.encode(), b"5550001")
    assert (await wa.post(body)).status == 200
    await wa.settle()
    assert wa.bot.received == []


# -- outbound formatting -----------------------------------------------------------------

async def test_long_text_split_at_4096(wa: WA) -> None:
    await wa.post(webhook_payload(text_msg("panjang")))
    await wa.settle()
    bodies = [r.json["text"]["body"] for r in wa.api.delivered]
    assert len(bodies) >= 2
    assert all(len(b) <= 4096 for b in bodies)
    assert " ".join(" ".join(bodies).split()) == " ".join(LONG_TEXT.split())
    assert all(b.endswith(".") for b in bodies)  # cut at boundaries, not mid-word
    assert all(not b.startswith(" ") and not b.endswith(" ") for b in bodies)


def test_split_text_prefers_boundaries() -> None:
    text = "a" * 10 + "\n\n" + "b" * 10 + "\n" + "c" * 5 + " " + "d" * 5
    assert split_text(text, 12) == ["a" * 10, "b" * 10, "ccccc ddddd"]
    assert split_text(text, 8)[-2:] == ["ccccc", "ddddd"]
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]
    assert split_text("  ", 10) == []


async def test_three_buttons_become_reply_buttons(wa: WA) -> None:
    await wa.post(webhook_payload(text_msg("tiga tombol")))
    (sent,) = await wa.api.wait_for(1)
    interactive = sent.json["interactive"]
    assert sent.json["type"] == "interactive" and interactive["type"] == "button"
    assert interactive["body"] == {"text": "Mau tahu apa?"}
    buttons = interactive["action"]["buttons"]
    assert [b["reply"]["id"] for b in buttons] == [b["payload"] for b in THREE_BUTTONS]
    titles = [b["reply"]["title"] for b in buttons]
    assert all(len(t) <= 20 for t in titles)
    assert titles[0].endswith("…") and titles[1] == "LTSA terdekat"


async def test_six_buttons_become_list(wa: WA) -> None:
    await wa.post(webhook_payload(text_msg("enam tombol")))
    (sent,) = await wa.api.wait_for(1)
    interactive = sent.json["interactive"]
    assert interactive["type"] == "list"
    assert len(interactive["action"]["button"]) <= 20
    rows = interactive["action"]["sections"][0]["rows"]
    assert [r["id"] for r in rows] == [f"pilihan {i}" for i in range(1, 7)]
    assert all(len(r["title"]) <= 24 for r in rows)
    assert all(len(r.get("description", "")) <= 72 for r in rows)


async def test_more_than_ten_buttons_truncated(wa: WA) -> None:
    out = wa.channel.get_output_channel(bound=(wa.sid, PHONE))
    await wa.channel.window.record_inbound(wa.sid)
    buttons = [{"title": f"Opsi {i}", "payload": f"opsi {i}"} for i in range(15)]
    await out.send_text_with_buttons(wa.sid, "Pilih", buttons)
    (sent,) = await wa.api.wait_for(1)
    assert len(sent.json["interactive"]["action"]["sections"][0]["rows"]) == 10


# -- retries -------------------------------------------------------------------------

async def test_retries_after_500s(wa: WA) -> None:
    wa.api.fail_next(2, status=500)
    await wa.post(webhook_payload(text_msg("halo")))
    await wa.settle()
    assert [r.status for r in wa.api.requests] == [500, 500, 200]
    assert len(wa.api.delivered) == 1


async def test_retry_after_429_respects_retry_after(wa: WA) -> None:
    wa.api.rate_limit_next(1, retry_after=1)
    await wa.post(webhook_payload(text_msg("halo")))
    await wa.settle()
    assert [r.status for r in wa.api.requests] == [429, 200]
    # Base delay is 0.01 s, so a gap near 1 s proves Retry-After was honoured.
    assert wa.api.requests[1].at - wa.api.requests[0].at >= 0.9


async def test_gives_up_after_four_attempts(wa: WA) -> None:
    wa.api.fail_next(10, status=503)
    await wa.post(webhook_payload(text_msg("halo")))
    await wa.settle()
    assert [r.status for r in wa.api.requests] == [503] * 4


async def test_client_errors_not_retried(wa: WA) -> None:
    wa.api.fail_next(1, status=400)
    await wa.post(webhook_payload(text_msg("halo")))
    await wa.settle()
    assert [r.status for r in wa.api.requests] == [400]


# -- privacy -------------------------------------------------------------------------

async def test_no_phone_number_or_text_in_logs(wa: WA, caplog: pytest.LogCaptureFixture
                                               ) -> None:
    caplog.set_level(logging.DEBUG)
    secret_text = "rahasia pribadi saya"
    wa.api.fail_next(1, status=500)
    wa.api.fail_next(1, status=400)
    await wa.post(webhook_payload(text_msg(secret_text)))
    await wa.post(webhook_payload(text_msg("rusak")))
    await wa.post(webhook_payload({"from": PHONE, "id": "wamid.IMG", "timestamp": "1",
                                   "type": "image", "image": {"id": "M"}}))
    await wa.post(webhook_payload(text_msg("halo")), signature="sha256=00")
    await wa.settle()
    # Proactive sends: known, unknown and raw-number recipients.
    out = wa.channel.get_output_channel()
    await out.send_text_message(wa.sid, "tindak lanjut")
    await out.send_text_message(wa.channel.identity.sender_id("6289999999999"), "x")
    await out.send_text_message(PHONE, "x")
    assert caplog.records, "expected some log output"
    assert PHONE not in caplog.text and PHONE[-8:] not in caplog.text
    assert "6289999999999" not in caplog.text
    assert secret_text not in caplog.text
    assert all(PHONE not in str(m.sender_id) for m in wa.bot.received)


# -- 24-hour customer service window ------------------------------------------------------

async def test_template_used_outside_24h_window(wa: WA) -> None:
    await wa.channel.identity.remember(wa.sid, PHONE)
    out = wa.channel.get_output_channel()  # as for trigger_intent: no bound number
    await wa.channel.window.record_inbound(wa.sid, at=time.time() - 25 * 3600)
    await out.send_response(wa.sid, {"text": "Halo lagi, ini tindak lanjut dari SI-SAGA."})
    await out.send_response(wa.sid, {"text": "Pesan kedua"})
    (sent,) = await wa.api.wait_for(1)
    assert sent.json["type"] == "template" and sent.json["to"] == PHONE
    assert sent.json["template"] == {"name": "teman_migrasi_handoff",
                                     "language": {"code": "id"}}
    await asyncio.sleep(0.05)
    assert len(wa.api.delivered) == 1  # one template per closed window, no spam

    # The user answers -> window re-opens -> free text again.
    await wa.post(webhook_payload(text_msg("halo")))
    await wa.settle()
    assert wa.api.delivered[-1].json["type"] == "text"


async def test_free_text_inside_window(wa: WA) -> None:
    await wa.channel.identity.remember(wa.sid, PHONE)
    out = wa.channel.get_output_channel()
    await wa.channel.window.record_inbound(wa.sid, at=time.time() - 23 * 3600)
    await out.send_response(wa.sid, {"text": "Masih dalam 24 jam"})
    (sent,) = await wa.api.wait_for(1)
    assert sent.json["type"] == "text" and sent.json["to"] == PHONE


# -- pseudonymous sender ids ----------------------------------------------------------------

async def test_tracker_key_is_namespaced_keyed_hash(wa: WA) -> None:
    await wa.post(webhook_payload(text_msg("halo")))
    await wa.post(webhook_payload(text_msg("lagi")))
    await wa.api.wait_for(2)
    keys = {m.sender_id for m in wa.bot.received}
    assert len(keys) == 1
    (key,) = keys
    assert key.startswith("wa:") and len(key) == 3 + HASH_HEX_CHARS
    int(key[3:], 16)  # hex
    assert PHONE not in key and PHONE[-6:] not in key
    # `make forget --phone` finds this conversation from the number alone.
    spelled = channel_numbers(PHONE)["wa:"]
    assert key == sender_id_for("wa:", derive(SENDER_KEY, ID_CONTEXT), spelled)
    # Keyed: a different SENDER_ID_KEY gives a different, unlinkable id.
    other = make_identity(WHATSAPP_PREFIX, wa.db_path, key="another-key-0123456789abcdef")
    assert other.sender_id(PHONE) != key
    # ... and every reply still reached the number.
    assert {r.json["to"] for r in wa.api.delivered} == {PHONE}


async def test_sender_id_not_guessable_without_key(wa: WA) -> None:
    plain = [hashlib.sha256(PHONE.encode()).hexdigest(),
             hashlib.sha256(("wa:" + PHONE).encode()).hexdigest()]
    assert all(wa.sid[3:] not in h for h in plain)


async def test_proactive_send_uses_encrypted_mapping(wa: WA, bot: FakeBot,
                                                     fake_api: FakeGraphAPI,
                                                     http: aiohttp.ClientSession) -> None:
    await wa.post(webhook_payload(text_msg("halo")))
    await wa.api.wait_for(1)
    await wa.settle()
    sid = wa.bot.received[0].sender_id
    # A later process (restart: empty memory) sends through Rasa's output channel, as for
    # POST /conversations/<sid>/trigger_intent?output_channel=whatsapp.
    fresh = make_channel(fake_api.url, wa.db_path)
    await fresh.window.record_inbound(sid)
    await fresh.get_output_channel().send_response(sid, {"text": "Tindak lanjut"})
    sent = await wa.api.wait_for(2)
    assert sent[-1].json["to"] == PHONE
    assert sent[-1].json["text"]["body"] == "Tindak lanjut"


async def test_proactive_send_to_unknown_or_raw_id_is_dropped(wa: WA) -> None:
    out = wa.channel.get_output_channel()
    unknown = wa.channel.identity.sender_id("6289999999999")
    for recipient in (unknown, PHONE, "tw:" + "0" * 32, "demo-abc"):
        await wa.channel.window.record_inbound(recipient)
        await out.send_text_message(recipient, "halo")
    await asyncio.sleep(0.05)
    assert wa.api.requests == []


async def test_mapping_encrypted_at_rest(wa: WA) -> None:
    await wa.post(webhook_payload(text_msg("halo")))
    await wa.settle()
    assert wa.channel.identity.map.lookup(wa.sid) == PHONE
    raw = db_bytes(wa.db_path)
    assert raw, "the sender map file should exist after the first message"
    for needle in (PHONE, PHONE[-8:], "+" + PHONE):
        assert needle.encode() not in raw
    assert wa.sid.encode() in raw  # the key column is the pseudonym


async def test_reserved_namespace_refused_by_rest_in_same_app(
        fake_api: FakeGraphAPI, bot: FakeBot, http: aiohttp.ClientSession,
        tmp_path: Path) -> None:
    """Both channels in one server: REST refuses the wa: id, WhatsApp still works."""
    channel = make_channel(fake_api.url, tmp_path / "m.db")
    sid = channel.identity.sender_id(PHONE)
    async with SanicServer([channel, SafeRestInput()], bot) as url:
        async with http.post(url + "/webhooks/rest/webhook",
                             json={"sender": sid, "message": "halo"}) as resp:
            assert resp.status == 400
        body = webhook_payload(text_msg("halo"))
        async with http.post(url + WEBHOOK, data=body,
                             headers={"X-Hub-Signature-256": sign(body),
                                      "Content-Type": "application/json"}) as resp:
            assert resp.status == 200
        await fake_api.wait_for(1)
        await channel.tasks.drain()
    assert [m.sender_id for m in bot.received] == [sid]
    assert [m.input_channel for m in bot.received] == ["whatsapp"]
