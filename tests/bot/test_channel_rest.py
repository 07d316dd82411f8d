"""SafeRestInput: Rasa's REST channel, refusing reserved/malformed sender ids with 400."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.channels.common import ChannelConfigError
from bot.channels.demo_page import DemoPageInput
from bot.channels.identity import TWILIO_PREFIX, WHATSAPP_PREFIX
from bot.channels.rest import MAX_SENDER_ID_LENGTH, SafeRestInput
from bot.channels.twilio_signed import TwilioSignedInput
from bot.channels.whatsapp import WhatsAppInput
from tests.bot.channel_helpers import (
    PHONE,
    SENDER_KEY,
    SLASH_TEXTS,
    FakeBot,
    SanicServer,
    make_identity,
)
from tests.support.fake_graph_api import FakeGraphAPI

WEBHOOK = "/webhooks/rest/webhook"


@pytest.fixture
async def rest(bot: FakeBot) -> AsyncIterator[str]:
    async with SanicServer([SafeRestInput.from_credentials(None),
                            DemoPageInput.from_credentials(None)], bot) as url:
        yield url


async def post(http: aiohttp.ClientSession, url: str, body: Any, raw: bool = False
               ) -> tuple[int, Any]:
    kwargs: dict[str, Any] = {"data": body} if raw else {"json": body}
    async with http.post(url + WEBHOOK, **kwargs) as resp:
        text = await resp.text()
        try:
            return resp.status, json.loads(text)
        except ValueError:
            return resp.status, text


def test_name_and_url_unchanged() -> None:
    channel = SafeRestInput()
    assert SafeRestInput.name() == "rest" and channel.url_prefix() == "rest"


async def test_normal_message_answered_like_rest(rest: str, http: aiohttp.ClientSession,
                                                 bot: FakeBot) -> None:
    status, body = await post(http, rest, {"sender": "demo-0123abcd", "message": "halo",
                                           "metadata": {"source": "test"}})
    assert status == 200
    assert body == [{"recipient_id": "demo-0123abcd", "text": "Jawaban untuk: halo"}]
    (msg,) = bot.received
    assert msg.sender_id == "demo-0123abcd" and msg.text == "halo"
    assert msg.input_channel == "rest" and msg.metadata == {"source": "test"}


async def test_input_channel_field_kept(rest: str, http: aiohttp.ClientSession,
                                        bot: FakeBot) -> None:
    status, _ = await post(http, rest, {"sender": "s1", "message": "halo",
                                        "input_channel": "kiosk"})
    assert status == 200 and bot.received[0].input_channel == "kiosk"


async def test_sender_of_max_length_accepted(rest: str, http: aiohttp.ClientSession) -> None:
    status, _ = await post(http, rest, {"sender": "x" * MAX_SENDER_ID_LENGTH, "message": ""})
    assert status == 200


async def test_stream_mode_still_works(rest: str, http: aiohttp.ClientSession) -> None:
    async with http.post(rest + WEBHOOK + "?stream=true",
                         json={"sender": "s2", "message": "halo"}) as resp:
        assert resp.status == 200
        lines = [json.loads(line) for line in (await resp.text()).splitlines() if line]
    assert lines == [{"recipient_id": "s2", "text": "Jawaban untuk: halo"}]


@pytest.mark.parametrize("typed", SLASH_TEXTS)
async def test_typed_slash_text_reaches_rasa_unchanged(rest: str, http: aiohttp.ClientSession,
                                                       bot: FakeBot, typed: str) -> None:
    status, _ = await post(http, rest, {"sender": "demo-slash", "message": typed})
    assert status == 200
    assert [m.text for m in bot.received] == [typed]


@pytest.mark.parametrize("body", [
    {"sender": "wa:" + "0" * 32, "message": "halo"},
    {"sender": "tw:" + "0" * 32, "message": "halo"},
    {"sender": "WA:abc", "message": "halo"},
    {"sender": " tw:abc", "message": "halo"},
    {"sender": "wa:", "message": "halo"},
    {"sender": "", "message": "halo"},
    {"sender": "   ", "message": "halo"},
    {"message": "halo"},
    {"sender": None, "message": "halo"},
    {"sender": 6281234567890, "message": "halo"},
    {"sender": ["a"], "message": "halo"},
    {"sender": "x" * (MAX_SENDER_ID_LENGTH + 1), "message": "halo"},
    {"sender": "ok"},
    {"sender": "ok", "message": None},
    {"sender": "ok", "message": 5},
    {"sender": "ok", "message": ["/affirm"]},
    {"sender": "ok", "message": {"text": "halo"}},
    ["sender", "message"],
    "halo",
])
async def test_refused_with_400(rest: str, http: aiohttp.ClientSession, bot: FakeBot,
                                body: Any) -> None:
    status, answer = await post(http, rest, body)
    assert status == 400
    assert isinstance(answer, dict) and set(answer) == {"error"}
    assert 0 < len(answer["error"]) < 120
    assert bot.received == []


@pytest.mark.parametrize("raw", [b"{not json", b"", b"\xff"])
async def test_malformed_body_refused_with_400(rest: str, http: aiohttp.ClientSession,
                                               bot: FakeBot, raw: bytes) -> None:
    status, answer = await post(http, rest, raw, raw=True)
    assert status == 400 and "error" in answer
    assert bot.received == []


async def test_reserved_prefix_error_names_the_namespaces(rest: str,
                                                          http: aiohttp.ClientSession) -> None:
    _, answer = await post(http, rest, {"sender": "wa:x", "message": "halo"})
    assert "wa:" in answer["error"] and "tw:" in answer["error"]


async def test_refusal_does_not_log_sender(rest: str, http: aiohttp.ClientSession,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await post(http, rest, {"sender": "wa:" + PHONE, "message": "halo"})
    await post(http, rest, {"sender": PHONE * 20, "message": "halo"})
    assert PHONE not in caplog.text


async def test_other_routes_untouched(rest: str, http: aiohttp.ClientSession) -> None:
    async with http.get(rest + "/webhooks/rest/") as resp:
        assert resp.status == 200 and await resp.json() == {"status": "ok"}
    async with http.get(rest + "/demo/") as resp:
        assert resp.status == 200


def test_credentials_class_paths_load(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The paths documented for credentials.yml load the way Rasa loads custom channels."""
    from rasa.shared.utils.common import class_from_module_path

    def _create_single_channel(path: str, credentials: dict[str, Any]) -> Any:
        # What rasa.core.run._create_single_channel does for non-builtin channel names
        # (importing rasa.core.run itself would pull in TensorFlow).
        return class_from_module_path(path).from_credentials(credentials)

    env = {"WHATSAPP_VERIFY_TOKEN": "v", "WHATSAPP_APP_SECRET": "s",
           "WHATSAPP_ACCESS_TOKEN": "t", "WHATSAPP_PHONE_NUMBER_ID": "1",
           "TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t",
           "TWILIO_WHATSAPP_NUMBER": "+1", "SENDER_ID_KEY": SENDER_KEY,
           "SENDER_MAP_PATH": str(tmp_path / "map.db")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    loaded = {path: _create_single_channel(path, {}) for path in (
        "bot.channels.rest.SafeRestInput", "bot.channels.demo_page.DemoPageInput",
        "bot.channels.whatsapp.WhatsAppInput", "bot.channels.twilio_signed.TwilioSignedInput")}
    assert isinstance(loaded["bot.channels.rest.SafeRestInput"], SafeRestInput)
    assert [c.name() for c in loaded.values()] == ["rest", "demo_page", "whatsapp",
                                                   "twilio_whatsapp"]
    monkeypatch.delenv("SENDER_ID_KEY")
    with pytest.raises(ChannelConfigError, match="SENDER_ID_KEY"):
        _create_single_channel("bot.channels.whatsapp.WhatsAppInput", {})
    # REST and the demo page need no key.
    _create_single_channel("bot.channels.rest.SafeRestInput", {})


async def test_all_channels_in_one_server(fake_api: FakeGraphAPI, bot: FakeBot,
                                          http: aiohttp.ClientSession, tmp_path: Path) -> None:
    """Production set-up: routes do not clash and the REST checks stay on REST only."""
    wa = WhatsAppInput(verify_token="v", app_secret="s", access_token="t",
                       phone_number_id="1", api_url=fake_api.url,
                       identity=make_identity(WHATSAPP_PREFIX, tmp_path / "m.db"))
    tw = TwilioSignedInput("AC1", "t", "whatsapp:+1", api_url=fake_api.url,
                           identity=make_identity(TWILIO_PREFIX, tmp_path / "m.db"))
    channels = [SafeRestInput(), DemoPageInput(), wa, tw]
    async with SanicServer(channels, bot) as url:
        status, _ = await post(http, url, {"sender": "demo-1", "message": "halo"})
        assert status == 200
        status, _ = await post(http, url, {"sender": wa.identity.sender_id(PHONE),
                                           "message": "halo"})
        assert status == 400
        # Unsigned posts reach the phone channels' own checks (403), not REST's (400).
        for path in ("/webhooks/whatsapp/webhook", "/webhooks/twilio_whatsapp/webhook"):
            async with http.post(url + path, data=b"[]") as resp:
                assert resp.status == 403
    assert [m.sender_id for m in bot.received] == ["demo-1"]
