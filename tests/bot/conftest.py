"""Fixtures for channel tests (helpers live in channel_helpers.py)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

# Make `tests.*` importable under plain `pytest` too (python -m pytest adds the cwd).
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.bot.channel_helpers import TOKEN, FakeBot  # noqa: E402
from tests.support.fake_graph_api import FakeGraphAPI  # noqa: E402


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeGraphAPI]:
    async with FakeGraphAPI(access_token=TOKEN) as api:
        yield api


@pytest.fixture
def bot() -> FakeBot:
    return FakeBot()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
