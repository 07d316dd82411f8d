"""Twilio WhatsApp channel with X-Twilio-Signature checks: real Sanic + fake Twilio API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from twilio.request_validator import RequestValidator

from bot.channels.common import ChannelConfigError
from bot.channels.http_retry import RetryPolicy
from bot.channels.identity import HASH_HEX_CHARS, TWILIO_PREFIX
from bot.channels.pseudonym import ID_CONTEXT, channel_numbers, derive, sender_id_for
from bot.channels.rest import SafeRestInput
from bot.channels.twilio_signed import (
    UNSUPPORTED_TEXT,
    TwilioSignedInput,
    compute_signature,
    verify_signature,
)
from tests.bot.channel_helpers import (
    LONG_TEXT,
    SENDER_KEY,
    SLASH_TEXTS,
    THREE_BUTTONS,
    FakeBot,
    SanicServer,
    db_bytes,
    make_identity,
)
from tests.support.fake_graph_api import FakeGraphAPI

SID = "AC" + "1" * 32
AUTH_TOKEN = "twilio-auth-token"
BOT_NUMBER = "whatsapp:+14155238886"
USER = "whatsapp:+6281234567890"
PATH = "/webhooks/twilio_whatsapp/webhook"
PUBLIC_URL = "https://bot.example.org/webhooks/twilio_whatsapp/webhook"
_sids = iter(range(1, 1_000_000))


def form(body: str = "halo", sid: str | None = None, **extra: str) -> dict[str, str]:
    return {"SmsMessageSid": "x", "NumMedia": "0", "ProfileName": "Maria",
            "MessageType": "text", "WaId": USER[10:], "Body": body, "To": BOT_NUMBER,
            "From": USER, "MessageSid": sid or f"SM{next(_sids):032d}", "AccountSid": SID,
            "ApiVersion": "2010-04-01", **extra}


@dataclass
class TW:
    url: str
    channel: TwilioSignedInput
    http: aiohttp.ClientSession
    api: FakeGraphAPI
    bot: FakeBot
    db_path: Path

    @property
    def sid(self) -> str:
        """The tracker key of the test user USER."""
        return self.channel.identity.sender_id(USER)

    async def post(self, data: dict[str, str], signature: str | None = "auto",
                   sign_url: str | None = None) -> aiohttp.ClientResponse:
        headers = {}
        if signature == "auto":
            # Independent oracle: Twilio's own SDK computes the expected signature.
            signature = RequestValidator(AUTH_TOKEN).compute_signature(
                sign_url or self.url + PATH, data)
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        async with self.http.post(self.url + PATH, data=data, headers=headers) as resp:
            await resp.read()
            return resp

    async def settle(self) -> None:
        await asyncio.sleep(0.05)
        await self.channel.tasks.drain()


def make_channel(api_url: str, db_path: Path,
                 webhook_url: str | None = None) -> TwilioSignedInput:
    return TwilioSignedInput(SID, AUTH_TOKEN, BOT_NUMBER, api_url=api_url,
                             webhook_url=webhook_url,
                             retry_policy=RetryPolicy(base_delay=0.01, max_delay=2),
                             identity=make_identity(TWILIO_PREFIX, db_path))


async def _tw(fake_api: FakeGraphAPI, bot: FakeBot, http: aiohttp.ClientSession,
              db_path: Path, webhook_url: str | None = None) -> AsyncIterator[TW]:
    channel = make_channel(fake_api.url, db_path, webhook_url)
    async with SanicServer([channel], bot) as url:
        yield TW(url, channel, http, fake_api, bot, db_path)


@pytest.fixture
async def tw(fake_api: FakeGraphAPI, bot: FakeBot, http: aiohttp.ClientSession,
             tmp_path: Path) -> AsyncIterator[TW]:
    async for value in _tw(fake_api, bot, http, tmp_path / "sender_map.db"):
        yield value


@pytest.fixture
async def tw_proxy(fake_api: FakeGraphAPI, bot: FakeBot, http: aiohttp.ClientSession,
                   tmp_path: Path) -> AsyncIterator[TW]:
    async for value in _tw(fake_api, bot, http, tmp_path / "sender_map.db",
                           webhook_url=PUBLIC_URL):
        yield value


def test_signature_matches_twilio_sdk() -> None:
    params = {"Body": "halo", "From": USER, "Empty": ""}
    expected = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_URL, params)
    multi = {k: [v] for k, v in params.items()}
    assert compute_signature(AUTH_TOKEN, PUBLIC_URL, multi) == expected
    assert verify_signature(AUTH_TOKEN, PUBLIC_URL, multi, expected)
    # Twilio may sign with or without the default port.
    assert verify_signature(AUTH_TOKEN, PUBLIC_URL.replace(".org/", ".org:443/"), multi,
                            expected)
    assert not verify_signature(AUTH_TOKEN, PUBLIC_URL, multi, expected[:-2] + "AA")
    assert not verify_signature(AUTH_TOKEN, PUBLIC_URL, multi, None)


def test_from_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_WHATSAPP_NUMBER",
                "TWILIO_WEBHOOK_URL", "TWILIO_API_URL", "SENDER_ID_KEY", "SENDER_MAP_KEY",
                "SENDER_MAP_TTL_DAYS"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("SENDER_MAP_PATH", str(tmp_path / "senders.db"))
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", SID)
    with pytest.raises(ChannelConfigError) as err:
        TwilioSignedInput.from_credentials(None)
    for name in ("TWILIO_AUTH_TOKEN", "TWILIO_WHATSAPP_NUMBER", "SENDER_ID_KEY"):
        assert name in str(err.value)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("TWILIO_WHATSAPP_NUMBER", "+14155238886")
    monkeypatch.setenv("TWILIO_WEBHOOK_URL", PUBLIC_URL)
    with pytest.raises(ChannelConfigError, match="SENDER_ID_KEY"):
        TwilioSignedInput.from_credentials(None)
    monkeypatch.setenv("SENDER_ID_KEY", SENDER_KEY)
    channel = TwilioSignedInput.from_credentials(None)
    assert channel.identity.prefix == "tw:"
    assert channel.identity.map.ttl_seconds == 30 * 86400
    assert channel.whatsapp_number == BOT_NUMBER
    assert channel.webhook_url == PUBLIC_URL
    assert channel.api_url == "https://api.twilio.com"


async def test_valid_signature_answers_via_rest_api(tw: TW) -> None:
    resp = await tw.post(form("syarat jadi pmi"))
    assert resp.status == 200 and resp.content_type == "text/xml"
    (sent,) = await tw.api.wait_for(1)
    assert sent.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert sent.form == {"From": BOT_NUMBER, "To": USER, "Body": "Jawaban untuk: syarat jadi pmi"}
    assert sent.headers["Authorization"].startswith("Basic ")
    msg = tw.bot.received[0]
    assert msg.sender_id == tw.sid and msg.input_channel == "twilio_whatsapp"
    assert msg.sender_id.startswith("tw:") and len(msg.sender_id) == 3 + HASH_HEX_CHARS
    assert "6281234567890" not in msg.sender_id
    # `make forget --phone` finds this conversation from the number alone.
    key = derive(SENDER_KEY, ID_CONTEXT)
    assert msg.sender_id == sender_id_for("tw:", key, channel_numbers("6281234567890")["tw:"])
    assert msg.metadata == {"channel": "twilio_whatsapp"}


@pytest.mark.parametrize("signature", [None, "", "not-base64", "AAAA" * 7])
async def test_missing_or_wrong_signature_403(tw: TW, signature: str | None) -> None:
    resp = await tw.post(form(), signature=signature)
    assert resp.status == 403
    await tw.settle()
    assert tw.bot.received == [] and tw.api.requests == []


async def test_signature_over_tampered_params_403(tw: TW) -> None:
    good = RequestValidator(AUTH_TOKEN).compute_signature(tw.url + PATH, form("halo", "SM1"))
    resp = await tw.post(form("halo!", "SM1"), signature=good)
    assert resp.status == 403


async def test_webhook_url_override_behind_proxy(tw_proxy: TW) -> None:
    # Signed for the public URL Twilio knows: accepted although we serve on 127.0.0.1.
    assert (await tw_proxy.post(form("halo"), sign_url=PUBLIC_URL)).status == 200
    # Signed for the local URL: rejected, the public URL is authoritative.
    assert (await tw_proxy.post(form("halo"), sign_url=tw_proxy.url + PATH)).status == 403
    await tw_proxy.api.wait_for(1)
    assert tw_proxy.bot.texts == ["halo"]


async def test_duplicate_message_sid_answered_once(tw: TW) -> None:
    data = form("halo", sid="SM_DUP")
    for _ in range(3):
        assert (await tw.post(data)).status == 200
    await tw.settle()
    assert tw.bot.texts == ["halo"] and len(tw.api.delivered) == 1


async def test_buttons_numbered_and_reply_maps_back(tw: TW) -> None:
    await tw.post(form("tiga tombol"))
    (sent,) = await tw.api.wait_for(1)
    body = sent.form["Body"]
    assert "Mau tahu apa?" in body
    assert "1. Syarat jadi Pekerja Migran\n2. LTSA terdekat\n3. Nomor SI-SAGA" in body
    await tw.post(form(" 2 "))
    await tw.api.wait_for(2)
    assert tw.bot.texts[-1] == THREE_BUTTONS[1]["payload"] == "di mana LTSA terdekat"
    # The choice was consumed: a later "2" is just text again.
    await tw.post(form("2"))
    await tw.api.wait_for(3)
    assert tw.bot.texts[-1] == "2"


async def test_out_of_range_number_is_plain_text(tw: TW) -> None:
    await tw.post(form("tiga tombol"))
    await tw.api.wait_for(1)
    await tw.post(form("7"))
    await tw.api.wait_for(2)
    assert tw.bot.texts[-1] == "7"


async def test_media_without_text_gets_friendly_text(tw: TW) -> None:
    await tw.post(form("", NumMedia="1", MediaUrl0="https://api.twilio.com/media/1",
                       MediaContentType0="image/jpeg", MessageType="image"))
    (sent,) = await tw.api.wait_for(1)
    assert sent.form["Body"] == UNSUPPORTED_TEXT
    assert tw.bot.received == []


async def test_long_text_split_for_twilio(tw: TW) -> None:
    await tw.post(form("panjang"))
    await tw.settle()
    bodies = [r.form["Body"] for r in tw.api.delivered]
    assert len(bodies) >= 5 and all(len(b) <= 1600 for b in bodies)
    assert " ".join(" ".join(bodies).split()) == " ".join(LONG_TEXT.split())


async def test_retries_on_500_and_429(tw: TW) -> None:
    tw.api.fail_next(1, status=502)
    tw.api.rate_limit_next(1, retry_after=0)
    await tw.post(form("halo"))
    await tw.settle()
    assert [r.status for r in tw.api.requests] == [502, 429, 201]


async def test_no_phone_number_in_logs(tw: TW, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    tw.api.fail_next(1, status=500)
    await tw.post(form("pesan rahasia"))
    await tw.post(form("rusak"))
    await tw.post(form("halo"), signature="bad")
    await tw.settle()
    out = tw.channel.get_output_channel()
    await out.send_text_message(tw.sid, "tindak lanjut")
    await out.send_text_message(tw.channel.identity.sender_id("whatsapp:+6289999999999"), "x")
    await out.send_text_message(USER, "x")
    assert caplog.records
    assert "6281234567890" not in caplog.text and "pesan rahasia" not in caplog.text
    assert "6289999999999" not in caplog.text and "34567890" not in caplog.text
    assert all("6281234567890" not in m.sender_id for m in tw.bot.received)


@pytest.mark.parametrize("typed", SLASH_TEXTS)
async def test_typed_slash_text_reaches_rasa_unchanged(tw: TW, typed: str) -> None:
    await tw.post(form(typed))
    await tw.api.wait_for(1)
    (msg,) = tw.bot.received
    assert msg.text == typed and msg.sender_id == tw.sid


async def test_slash_text_is_not_a_choice_even_after_buttons(tw: TW) -> None:
    await tw.post(form("tiga tombol"))
    await tw.api.wait_for(1)
    await tw.post(form("/affirm"))
    await tw.api.wait_for(2)
    assert tw.bot.texts[-1] == "/affirm"


async def test_choices_are_keyed_by_sender_id(tw: TW) -> None:
    await tw.post(form("tiga tombol"))
    await tw.api.wait_for(1)
    assert await tw.channel.choices.get(tw.sid) == [b["payload"] for b in THREE_BUTTONS]
    assert await tw.channel.choices.get(USER) is None


async def test_proactive_send_uses_encrypted_mapping(tw: TW, fake_api: FakeGraphAPI) -> None:
    await tw.post(form("halo"))
    await tw.settle()
    fresh = make_channel(fake_api.url, tw.db_path)  # another process / after a restart
    await fresh.get_output_channel().send_response(tw.sid, {"text": "Tindak lanjut"})
    sent = await tw.api.wait_for(2)
    assert sent[-1].form == {"From": BOT_NUMBER, "To": USER, "Body": "Tindak lanjut"}
    raw = db_bytes(tw.db_path)
    assert raw and b"6281234567890" not in raw and USER.encode() not in raw


async def test_proactive_send_to_unknown_or_raw_id_is_dropped(tw: TW) -> None:
    out = tw.channel.get_output_channel()
    for recipient in (tw.sid, USER, "wa:" + "0" * 32):
        await out.send_text_message(recipient, "halo")
        await out.send_text_with_buttons(recipient, "pilih", THREE_BUTTONS)
    await asyncio.sleep(0.05)
    assert tw.api.requests == []
    assert len(tw.channel.state) == 0


async def test_twilio_sender_id_refused_by_rest(fake_api: FakeGraphAPI, bot: FakeBot,
                                                http: aiohttp.ClientSession,
                                                tmp_path: Path) -> None:
    channel = make_channel(fake_api.url, tmp_path / "m.db")
    body = {"sender": channel.identity.sender_id(USER), "message": "halo"}
    async with SanicServer([channel, SafeRestInput()], bot) as url, \
            http.post(url + "/webhooks/rest/webhook", json=body) as resp:
        assert resp.status == 400
        assert "error" in await resp.json()
    assert bot.received == []
