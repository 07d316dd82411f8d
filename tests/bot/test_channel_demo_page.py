"""Demo page channel: static files at /demo/ with correct types and no path traversal."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.channels.demo_page import WEB_DIR, DemoPageInput
from tests.bot.channel_helpers import FakeBot, SanicServer


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
