"""Demo page channel: static files at /demo/ with correct types and no path traversal."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.channels.demo_page import WEB_DIR, DemoPageInput
from bot.channels.rest import validate_rest_body
from tests.bot.channel_helpers import FakeBot, SanicServer

HARNESS = Path(__file__).with_name("demo_page_harness.js")
SENDER_RE = re.compile(r"^demo-[0-9a-f]{24}$")


@pytest.fixture
async def demo(bot: FakeBot) -> AsyncIterator[str]:
    async with SanicServer([DemoPageInput.from_credentials(None)], bot) as url:
        yield url


@pytest.mark.parametrize("path, content_type", [
    ("/demo/", "text/html"),
    ("/demo/index.html", "text/html"),
    ("/demo/app.js", "text/javascript"),
    ("/demo/style.css", "text/css"),
    ("/demo/scenarios.json", "application/json"),
])
async def test_serves_files_with_content_types(demo: str, http: aiohttp.ClientSession,
                                               path: str, content_type: str) -> None:
    async with http.get(demo + path) as resp:
        assert resp.status == 200
        assert resp.content_type == content_type
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
        body = await resp.read()
    name = "index.html" if path.endswith("/") else path.rsplit("/", 1)[1]
    assert body == (WEB_DIR / name).read_bytes()


async def test_demo_without_slash_redirects(demo: str, http: aiohttp.ClientSession) -> None:
    async with http.get(demo + "/demo", allow_redirects=False) as resp:
        assert resp.status in (301, 302)
        assert resp.headers["Location"].endswith("/demo/")


@pytest.mark.parametrize("path", [
    "/demo/../channels/demo_page.py", "/demo/..%2Fchannels%2Fdemo_page.py",
    "/demo/%2e%2e/%2e%2e/pyproject.toml", "/demo/..%2F..%2Fpyproject.toml",
    "/demo/%2Fetc%2Fpasswd", "/demo/nope.html", "/demo/.hidden",
])
async def test_path_traversal_impossible(demo: str, http: aiohttp.ClientSession,
                                         path: str) -> None:
    async with http.get(demo + path) as resp:
        body = await resp.text()
        assert resp.status == 404
        assert "import" not in body and "root:" not in body


def test_url_prefix_is_absolute_demo() -> None:
    from urllib.parse import urljoin

    assert urljoin("/webhooks/", DemoPageInput().url_prefix()) == "/demo"


def test_index_references_only_local_assets() -> None:
    html = (WEB_DIR / "index.html").read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html  # no CDN
    for needed in ('id="message-input"', 'id="send-button"', 'id="chat-log"',
                   'id="scenario-panel"', 'id="reset-button"', 'id="projector-toggle"',
                   'aria-live="polite"', "Teman Migrasi"):
        assert needed in html


def test_scenarios_json_shape() -> None:
    data = json.loads(Path(WEB_DIR / "scenarios.json").read_text(encoding="utf-8"))
    scenarios = data["scenarios"]
    assert len(scenarios) >= 3
    for scenario in scenarios:
        assert scenario["id"] and scenario["title"] and scenario["note"]
        assert len(scenario["steps"]) >= 2
        assert all(isinstance(s, str) and s.strip() for s in scenario["steps"])


# -- app.js behaviour (run in Node with a tiny fake DOM; see demo_page_harness.js) ---------

def run_page(stored_sender: str | None = None) -> dict[str, Any]:
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("node is not installed")
    args = [node, str(HARNESS), str(WEB_DIR / "app.js")]
    if stored_sender is not None:
        args.append(stored_sender)
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_page_sender_ids_are_random_demo_ids_accepted_by_rest() -> None:
    report = run_page()
    first, after_reset = report["initialSender"], report["senderAfterReset"]
    assert SENDER_RE.match(first) and SENDER_RE.match(after_reset)
    assert first != after_reset != run_page()["initialSender"]
    assert report["storedSender"] == first and report["storedAfterReset"] == after_reset
    for sender in (first, after_reset):
        assert validate_rest_body({"sender": sender, "message": "halo"}) is None


@pytest.mark.parametrize("stored", ["wa:0123456789abcdef0123456789abcdef", "tw:x", "",
                                    "6281234567890", "demo-" + "0" * 24 + "x"])
def test_page_replaces_an_unexpected_stored_sender(stored: str) -> None:
    report = run_page(stored)
    assert SENDER_RE.match(report["initialSender"])
    assert report["initialSender"] != stored


def test_page_keeps_a_valid_stored_sender() -> None:
    stored = "demo-" + "ab" * 12
    assert run_page(stored)["initialSender"] == stored


def test_reset_sends_nothing_and_starts_new_sender() -> None:
    report = run_page()
    assert report["requestsDuringReset"] == []
    assert report["senderAfterReset"] != report["oldSender"]
    assert report["noteBubbles"] == ["Percakapan baru dimulai."]
    # The next message goes out under the new id only.
    assert report["requests"][-1]["body"] == {"sender": report["senderAfterReset"],
                                              "message": "Nomor SI-SAGA"}
    assert all(r["body"]["message"] != "/restart" for r in report["requests"])
    assert "/restart" not in (WEB_DIR / "app.js").read_text(encoding="utf-8")


def test_typed_text_and_buttons_send_plain_text() -> None:
    report = run_page()
    requests = report["requests"]
    assert all(r["url"] == "/webhooks/rest/webhook" and r["method"] == "POST"
               for r in requests)
    # Typed "/command" text is sent exactly as typed, as ordinary text.
    assert requests[0]["body"]["message"] == '/choose_entry{"entry_id":"x"}'
    # A button shows its title and sends its payload (words); no payload -> its title.
    assert report["buttons"] == [
        {"title": "Ya, teruskan", "payload": "ya, teruskan ke petugas"},
        {"title": "Tidak usah", "payload": "/affirm"},
        {"title": "Lewati", "payload": "Lewati"},
    ]
    assert requests[1]["body"]["message"] == "ya, teruskan ke petugas"
    assert report["userBubblesBeforeReset"] == ['/choose_entry{"entry_id":"x"}',
                                                "Ya, teruskan"]
    assert report["buttonsDisabled"] == [True, True, True]  # one answer per question
