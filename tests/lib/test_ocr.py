"""OCR of advert photos (Tesseract with Indonesian data), in memory."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw, ImageFont

from teman.ocr import UnreadableImage, read_text

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def picture(lines: list[str], dark: bool = False, fmt: str = "PNG") -> bytes:
    font = ImageFont.truetype(FONT, 28)
    image = Image.new("RGB", (820, 60 + 44 * len(lines)), "black" if dark else "white")
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((30, 30 + 44 * i), line, fill="white" if dark else "black", font=font)
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


LINES = ["LOWONGAN KERJA KEBUN SAWIT", "Gaji besar, berangkat minggu depan", "Tanpa paspor"]


@pytest.mark.parametrize("dark", [False, True])
def test_reads_the_text_of_a_screenshot(dark: bool) -> None:
    result = read_text(picture(LINES, dark=dark))
    assert result.has_text
    text = result.text.lower()
    assert "lowongan" in text and "berangkat minggu depan" in text and "paspor" in text


def test_reads_a_jpeg_photo_too() -> None:
    assert "sawit" in read_text(picture(LINES, fmt="JPEG")).text.lower()


def test_a_picture_without_text_has_none() -> None:
    out = io.BytesIO()
    Image.new("RGB", (400, 300), (120, 160, 90)).save(out, format="PNG")
    assert not read_text(out.getvalue()).has_text


@pytest.mark.parametrize("data", [b"", b"not an image at all", b"%PDF-1.4 ..."])
def test_what_is_not_an_image_is_refused(data: bytes) -> None:
    with pytest.raises(UnreadableImage):
        read_text(data)
