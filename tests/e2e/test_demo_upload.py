"""The demo page's "📷 Cek foto iklan lowongan": a screenshot uploaded through headless
Chromium is read by the decision service (POST /demo/ocr -> /ocr) and checked like a
pasted advert."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.e2e.test_demo_page import bot_texts, browser, count, wait_idle, wait_more
from tests.e2e.test_offer_image import ADVERT, picture

pytestmark = pytest.mark.e2e
__all__ = ["browser"]  # the module-scoped Chromium fixture, shared with test_demo_page


def test_uploaded_screenshot_gets_its_red_flags(stack: Any, browser: WebDriver,
                                                tmp_path: Path) -> None:
    driver = browser
    driver.get(f"{stack.rasa_url}/demo/")
    image = tmp_path / "iklan.jpg"
    image.write_bytes(picture(ADVERT))
    before = count(driver, ".bot-bubble")
    driver.find_element(By.ID, "photo-input").send_keys(str(image))
    wait_more(driver, ".bot-bubble", before)
    wait_idle(driver)
    shown = driver.find_elements(By.CSS_SELECTOR, ".user-bubble")[-1].text
    assert "iklan.jpg" in shown and "Teks yang terbaca" in shown and "SAWIT" in shown.upper()
    answers = " ".join(bot_texts(driver)[before:])
    assert "tanda bahaya" in answers and "Jalur tidak resmi" in answers
