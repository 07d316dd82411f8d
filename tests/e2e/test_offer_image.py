"""Cek lowongan from a photo, through the real stack: a signed WhatsApp image webhook,
the media fetched from the fake Graph API (`GET /<media-id>`) and downloaded from a
separate fake media host with the access token, OCR in the decision service, the offer
check in Rasa, and the reply listing the red flags sent back to the fake API."""

from __future__ import annotations

import io
import urllib.request
import uuid

from PIL import Image, ImageDraw, ImageFont

from tests.support.whatsapp_payload import signed_headers, webhook_body

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
# Our own advert, written for this test (the evaluation adverts are never used in tests).
ADVERT = [
    "LOWONGAN KERJA KEBUN SAWIT SABAH",
    "Gaji 15 juta per bulan",
    "Berangkat minggu depan lewat Nunukan",
    "Tidak perlu paspor, biaya proses 2 juta",
    "Hubungi WA 0812 0000 7777",
]


def picture(lines: list[str]) -> bytes:
    font = ImageFont.truetype(FONT, 30)
    image = Image.new("RGB", (900, 80 + 50 * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((30, 40 + 50 * i), line, fill="black", font=font)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def whatsapp_image(stack, number: str, media_id: str) -> None:
    body = webhook_body(number, "image", {"id": media_id, "mime_type": "image/jpeg"})
    request = urllib.request.Request(
        f"{stack.rasa_url}/webhooks/whatsapp/webhook", data=body, headers=signed_headers(body))
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 200


def replies_to(stack, number: str, after: int) -> list[str]:
    return [r.json["text"]["body"] for r in stack.graph.delivered()[after:]
            if r.json and r.json.get("to") == number and r.json.get("type") == "text"]


def test_photo_of_an_advert_gets_its_red_flags(stack) -> None:
    number = "62814" + str(uuid.uuid4().int)[:7]
    media_id = "media-" + uuid.uuid4().hex[:10]
    stack.graph.add_media(media_id, picture(ADVERT), "image/jpeg")
    count = len(stack.graph.delivered())
    whatsapp_image(stack, number, media_id)
    # intro + flags, more flags, what a legal offer looks like (+ the hotline note)
    stack.graph.wait_for_count(count + 3)
    assert media_id in stack.graph.api.media_downloads  # fetched from the media host
    body = "\n".join(replies_to(stack, number, count))
    assert "tanda bahaya" in body
    assert "Jalur tidak resmi" in body and "Minta biaya" in body
    assert "Gaji jauh di atas" in body and "RM1.700" in body
    assert "«" in body  # the words that triggered a flag are quoted
    assert "Sumber:" in body
    assert "action_check_offer" in stack.actions(_sender(stack, number))


def test_photo_without_text_gets_a_friendly_answer(stack) -> None:
    number = "62815" + str(uuid.uuid4().int)[:7]
    media_id = "media-" + uuid.uuid4().hex[:10]
    out = io.BytesIO()
    Image.new("RGB", (600, 400), (90, 140, 200)).save(out, format="PNG")
    stack.graph.add_media(media_id, out.getvalue(), "image/png")
    count = len(stack.graph.delivered())
    whatsapp_image(stack, number, media_id)
    stack.graph.wait_for_count(count + 1)
    body = "\n".join(replies_to(stack, number, count))
    assert "tidak menemukan tulisan" in body


def _sender(stack, number: str) -> str:
    import sqlite3

    with sqlite3.connect(stack.trackers_db) as conn:
        rows = conn.execute(
            "SELECT DISTINCT sender_id FROM events WHERE sender_id LIKE 'wa:%' "
            "AND data LIKE '%action_check_offer%'").fetchall()
    senders = [r[0] for r in rows]
    assert senders and all(number not in s for s in senders)
    return senders[-1]
