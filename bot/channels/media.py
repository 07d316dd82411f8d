"""Photos and screenshots of job adverts: fetched from WhatsApp's media API and read by
the decision service's OCR endpoint (`POST /ocr`, teman/service/app.py).

The image stays in memory: downloaded, posted to the service, dropped. What comes back is
text, which the channel hands to Rasa as the user's message (the same offer check as for a
pasted advert), or a friendly reply when no text could be read.

Settings (environment, written by scripts/run_bot.sh): `TEMAN_SERVICE_URL` (the decision
service), `TEMAN_SERVICE_TOKEN` (shared per run), `TEMAN_OCR_MAX_BYTES` (8 MB).
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.channels.http_retry import LoopSession

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 8 * 1024 * 1024
OCR_TIMEOUT_SECONDS = 90.0
DOWNLOAD_TIMEOUT_SECONDS = 30.0

NO_TEXT_REPLY = (
    "Aku tidak menemukan tulisan di gambar ini 🙂 Kalau itu iklan lowongan kerja, kirim foto "
    "yang lebih jelas (tegak, terang, tidak buram), atau salin teks iklannya ke sini ya. "
    "Aku akan cek tanda bahayanya."
)
FAILED_REPLY = (
    "Maaf, gambarnya belum bisa aku baca sekarang 🙏 Coba kirim lagi sebentar lagi, atau "
    "salin teks iklannya ke sini supaya bisa aku cek."
)
TOO_LARGE_REPLY = (
    "Gambarnya terlalu besar untuk aku baca 🙏 Kirim tangkapan layar biasa saja, atau salin "
    "teks iklannya ke sini ya."
)


@dataclass(frozen=True)
class ImageText:
    """What an image gave: `text` for Rasa, or a `reply` for the user (never both)."""

    text: str = ""
    reply: str = ""


def service_url() -> str:
    url = os.environ.get("TEMAN_SERVICE_URL")
    if url:
        return url.rstrip("/")
    return f"http://127.0.0.1:{os.environ.get('ACTION_PORT', '5055')}"


def max_image_bytes() -> int:
    try:
        return int(os.environ.get("TEMAN_OCR_MAX_BYTES", DEFAULT_MAX_BYTES))
    except ValueError:
        return DEFAULT_MAX_BYTES


class TooLarge(Exception):
    pass


async def read_limited(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body, refusing more than `limit` bytes (Content-Length or counted)."""
    if resp.content_length is not None and resp.content_length > limit:
        raise TooLarge
    data = bytearray()
    async for chunk in resp.content.iter_chunked(64 * 1024):
        data += chunk
        if len(data) > limit:
            raise TooLarge
    return bytes(data)


class ImageReader:
    """Posts image bytes to the decision service and turns its answer into ImageText."""

    def __init__(self, url: str | None = None, token: str | None = None,
                 max_bytes: int | None = None) -> None:
        self.url = (url or service_url()) + "/ocr"
        self.token = token if token is not None else os.environ.get("TEMAN_SERVICE_TOKEN", "")
        self.max_bytes = max_bytes or max_image_bytes()
        self._http = LoopSession(OCR_TIMEOUT_SECONDS)

    async def session(self) -> aiohttp.ClientSession:
        return await self._http.get()

    async def close(self) -> None:
        await self._http.close()

    async def read(self, data: bytes, caption: str = "") -> ImageText:
        caption = (caption or "").strip()
        if len(data) > self.max_bytes:
            return ImageText(reply=TOO_LARGE_REPLY)
        headers = {"Content-Type": "application/octet-stream"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            session = await self.session()
            async with session.post(self.url, data=data, headers=headers) as resp:
                body: Any = await resp.json(content_type=None)
                status = resp.status
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            logger.error("ocr: the decision service did not answer: %s", type(error).__name__)
            return ImageText(text=caption) if caption else ImageText(reply=FAILED_REPLY)
        if status == 413:
            return ImageText(reply=TOO_LARGE_REPLY)
        if status != 200 or not isinstance(body, dict):
            logger.warning("ocr: the decision service answered HTTP %s", status)
            if caption:
                return ImageText(text=caption)
            return ImageText(reply=NO_TEXT_REPLY if status == 415 else FAILED_REPLY)
        text = str(body.get("text") or "").strip() if body.get("has_text") else ""
        if caption and text:
            return ImageText(text=f"{caption}\n\n{text}")
        if caption or text:
            return ImageText(text=caption or text)
        return ImageText(reply=NO_TEXT_REPLY)

    async def download_whatsapp(self, api_url: str, media_id: str, access_token: str) -> bytes:
        """Meta's two steps: `GET <api>/<media-id>` gives a short-lived URL (on another
        host), which is downloaded with the same access token. Raises on failure."""
        session = await self.session()
        auth = {"Authorization": f"Bearer {access_token}"}
        timeout = aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT_SECONDS)
        async with session.get(f"{api_url.rstrip('/')}/{media_id}", headers=auth,
                               timeout=timeout) as resp:
            resp.raise_for_status()
            info = await resp.json(content_type=None)
        url = info.get("url") if isinstance(info, dict) else None
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise ValueError("media answer without a URL")
        size = info.get("file_size")
        if isinstance(size, int) and size > self.max_bytes:
            raise TooLarge
        async with session.get(url, headers=auth, timeout=timeout) as resp:
            resp.raise_for_status()
            return await read_limited(resp, self.max_bytes)

    async def whatsapp_image(self, api_url: str, access_token: str,
                             image: dict[str, Any]) -> ImageText:
        """An inbound WhatsApp image message's `image` object -> ImageText."""
        caption = str(image.get("caption") or "")
        media_id = str(image.get("id") or "")
        if not media_id:
            return ImageText(text=caption) if caption.strip() else ImageText(reply=FAILED_REPLY)
        try:
            data = await self.download_whatsapp(api_url, media_id, access_token)
        except TooLarge:
            return ImageText(reply=TOO_LARGE_REPLY)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            logger.error("whatsapp: image download failed: %s", type(error).__name__)
            return ImageText(text=caption) if caption.strip() else ImageText(reply=FAILED_REPLY)
        return await self.read(data, caption)
