"""Browser test of the facilitator demo page against the real Rasa stack.

Uses the session fixture ``stack`` (tests/e2e/conftest.py): it trains the model and
starts the action server and the Rasa server with the rest + demo_page channels, and
exposes ``stack.rasa_url``. Drives Debian's headless Chromium via Selenium.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
ANSWER_TIMEOUT = 90  # first answers may wait for the retrieval model to warm up
SCENARIO_TIMEOUT = 300


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail("chromium/chromedriver missing: run scripts/setup_system.sh")
    profile = tempfile.mkdtemp(prefix="teman-migrasi-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1366,900",
                "--lang=id-ID", f"--user-data-dir={profile}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def count(driver: WebDriver, selector: str) -> int:
    return len(driver.find_elements(By.CSS_SELECTOR, selector))


def wait_more(driver: WebDriver, selector: str, before: int,
              timeout: float = ANSWER_TIMEOUT) -> None:
    """Wait until more elements match ``selector`` than ``before``; fail on error bubbles."""
    errors = count(driver, ".error-bubble")

    def ready(d: WebDriver) -> bool:
        if count(d, ".error-bubble") > errors:
            raise AssertionError("the page shows an error bubble: the server did not answer")
        return count(d, selector) > before

    WebDriverWait(driver, timeout, poll_frequency=0.2).until(ready)


def wait_idle(driver: WebDriver, timeout: float = ANSWER_TIMEOUT) -> None:
    WebDriverWait(driver, timeout, poll_frequency=0.2).until(
        lambda d: d.find_element(By.ID, "typing-indicator").get_attribute("hidden")
        is not None)


def bot_texts(driver: WebDriver) -> list[str]:
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".bot-bubble")]


def severe_console_errors(driver: WebDriver) -> list[dict[str, Any]]:
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def test_demo_page_end_to_end(stack: Any, browser: WebDriver) -> None:
    driver = browser
    driver.get(f"{stack.rasa_url}/demo/")
    assert "Teman Migrasi" in driver.title
    assert driver.find_element(By.ID, "app-title").text == "Teman Migrasi"
    log = driver.find_element(By.ID, "chat-log")
    assert log.get_attribute("aria-live") == "polite"
    WebDriverWait(driver, 10).until(lambda d: count(d, ".scenario-button") >= 3)
    chips = driver.find_elements(By.CSS_SELECTOR, "#quick-replies .quick-reply")
    assert {"Syarat jadi PMI", "Nomor SI-SAGA"} <= {c.text for c in chips}

    # 1) Typed question (Enter key, like a facilitator would do).
    box = driver.find_element(By.ID, "message-input")
    box.send_keys("syarat jadi pmi apa saja", Keys.ENTER)
    wait_more(driver, ".bot-bubble", 0)
    users = driver.find_elements(By.CSS_SELECTOR, ".user-bubble")
    assert users[-1].text == "syarat jadi pmi apa saja"
    assert bot_texts(driver)[0].strip()
    wait_idle(driver)

    # 2) A start chip.
    before = count(driver, ".bot-bubble")
    chip = next(c for c in driver.find_elements(By.CSS_SELECTOR, "#quick-replies .quick-reply")
                if c.text == "Nomor SI-SAGA")
    chip.click()
    wait_more(driver, ".bot-bubble", before)
    assert driver.find_elements(By.CSS_SELECTOR, ".user-bubble")[-1].text == "Nomor SI-SAGA"
    wait_idle(driver)

    # 3) The risk hand-off scenario, run to the end.
    before_bot = count(driver, ".bot-bubble")
    before_user = count(driver, ".user-bubble")
    driver.find_element(
        By.CSS_SELECTOR, '.scenario-button[data-scenario-id="serah-terima-risiko"]').click()
    status = driver.find_element(By.ID, "scenario-status")
    WebDriverWait(driver, SCENARIO_TIMEOUT, poll_frequency=0.3).until(
        lambda d: status.get_attribute("data-state") in ("done", "error"))
    assert status.get_attribute("data-state") == "done", status.text
    assert "selesai" in status.text
    assert count(driver, ".user-bubble") - before_user == 3
    assert count(driver, ".bot-bubble") - before_bot >= 3
    assert count(driver, ".note-bubble") >= 1  # facilitator note shown
    answers = " ".join(bot_texts(driver)[before_bot:])
    assert "SI-SAGA" in answers or "0811" in answers, "risk scenario must point to SI-SAGA"

    # 3b) Rasa's intent syntax typed into the page is only text: no consent is given.
    wait_idle(driver)
    sender = driver.execute_script("return window.temanMigrasiDemo.senderId()")
    assert stack.slots(sender)["handoff_stage"] == "awaiting_consent"
    before = count(driver, ".bot-bubble")
    driver.find_element(By.ID, "message-input").send_keys("/affirm", Keys.ENTER)
    wait_more(driver, ".bot-bubble", before)
    wait_idle(driver)
    assert "action_handoff_consent" not in stack.actions(sender)
    assert (stack.tracker(sender).get("active_loop") or {}).get("name") != "handoff_form"

    # 4) Projector mode: much larger text, toggled state exposed to assistive tech.
    toggle = driver.find_element(By.ID, "projector-toggle")
    base_px = float(driver.execute_script(
        "return parseFloat(getComputedStyle(document.documentElement).fontSize)"))
    toggle.click()
    assert toggle.get_attribute("aria-pressed") == "true"
    assert "projector" in driver.find_element(By.TAG_NAME, "body").get_attribute("class")
    big_px = float(driver.execute_script(
        "return parseFloat(getComputedStyle(document.documentElement).fontSize)"))
    assert big_px >= base_px * 1.4
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(ARTIFACTS / "demo_page.png"))
    toggle.click()
    assert toggle.get_attribute("aria-pressed") == "false"

    # 5) Reset: new sender id, empty chat.
    old_sender = driver.execute_script("return window.temanMigrasiDemo.senderId()")
    events_before = len(stack.tracker(old_sender)["events"])
    driver.find_element(By.ID, "reset-button").click()
    WebDriverWait(driver, 10).until(
        lambda d: count(d, ".bot-bubble") == 0 and count(d, ".user-bubble") == 0)
    new_sender = driver.execute_script("return window.temanMigrasiDemo.senderId()")
    assert new_sender != old_sender
    assert driver.execute_script(
        "return sessionStorage.getItem('temanMigrasi.sender')") == new_sender
    # The reset sent no chat message: the old conversation got nothing new.
    box = driver.find_element(By.ID, "message-input")
    box.send_keys("halo", Keys.ENTER)
    wait_more(driver, ".bot-bubble", 0)
    wait_idle(driver)
    assert len(stack.tracker(old_sender)["events"]) == events_before

    assert severe_console_errors(driver) == []
