"""Text from a photo or screenshot of a job advert (Tesseract, Indonesian data).

Images are decoded and read in memory and never written anywhere. Pillow's checks guard
the decoder: only the formats a phone sends (JPEG, PNG, WebP, GIF's first frame), at most
`MAX_PIXELS` pixels (a decompression bomb fails fast). Small screenshots are enlarged and
every image goes to grey with stretched contrast, which is what Tesseract reads best.
"""

from __future__ import annotations

import io
import os
import time
from dataclasses import dataclass

import pytesseract
from PIL import Image, ImageOps, UnidentifiedImageError

LANGUAGES = os.environ.get("TEMAN_OCR_LANGUAGES", "ind")
TIMEOUT_SECONDS = float(os.environ.get("TEMAN_OCR_TIMEOUT", "30"))
MAX_PIXELS = 40_000_000
FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")
MIN_WIDTH = 1000
MAX_SIDE = 3000
#: fewer letters than this is "no readable text" (a photo of a face, a landscape)
MIN_LETTERS = 12


class UnreadableImage(ValueError):
    """Not an image we can open (wrong format, broken file, too many pixels)."""


@dataclass(frozen=True)
class OcrResult:
    text: str
    seconds: float

    @property
    def has_text(self) -> bool:
        return sum(c.isalpha() for c in self.text) >= MIN_LETTERS


def _open(data: bytes) -> Image.Image:
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        image = Image.open(io.BytesIO(data), formats=FORMATS)
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError) as error:
        raise UnreadableImage(type(error).__name__) from error
    return image


def prepare(image: Image.Image) -> Image.Image:
    """Upright (EXIF), grey, contrast stretched, between MIN_WIDTH and MAX_SIDE wide."""
    image = ImageOps.exif_transpose(image) or image
    grey = ImageOps.grayscale(image.convert("RGB"))
    if ImageOps.autocontrast(grey).getextrema() == (0, 0):
        return grey
    # Dark mode screenshots: light text on a dark background reads better inverted.
    histogram = grey.histogram()
    dark = sum(histogram[:128]) > sum(histogram[128:])
    if dark:
        grey = ImageOps.invert(grey)
    width, height = grey.size
    scale = 1.0
    if width < MIN_WIDTH:
        scale = MIN_WIDTH / width
    if max(width, height) * scale > MAX_SIDE:
        scale = MAX_SIDE / max(width, height)
    if abs(scale - 1.0) > 0.05:
        grey = grey.resize((max(1, int(width * scale)), max(1, int(height * scale))),
                           Image.Resampling.LANCZOS)
    return ImageOps.autocontrast(grey)


def read_text(data: bytes) -> OcrResult:
    """The text in an image (may be empty). Raises UnreadableImage for a non-image."""
    started = time.perf_counter()
    image = prepare(_open(data))
    try:
        raw = pytesseract.image_to_string(image, lang=LANGUAGES, timeout=TIMEOUT_SECONDS)
    except RuntimeError:  # pytesseract's timeout
        raw = ""
    lines = [" ".join(line.split()) for line in raw.splitlines()]
    text = "\n".join(line for line in lines if line)
    return OcrResult(text, time.perf_counter() - started)
