#!/usr/bin/env bash
# Install headless Chromium + chromedriver for the demo-page e2e test (Selenium).
# The emoji font makes the saved screenshot show emoji as a user sees them.
# Idempotent: does nothing when everything is already installed. Needs root (apt-get).
set -euo pipefail

CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver

EMOJI_FONT=/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf

if [[ -x "$CHROMIUM" && -x "$CHROMEDRIVER" && -f "$EMOJI_FONT" ]]; then
    echo "setup_browser: chromium and chromedriver already installed."
    "$CHROMIUM" --version 2>/dev/null || true
    "$CHROMEDRIVER" --version 2>/dev/null || true
    exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
    echo "setup_browser: ERROR: must run as root to apt-get install chromium chromium-driver." >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
if ! apt-get update; then
    echo "setup_browser: ERROR: 'apt-get update' failed (no network or broken sources?)." >&2
    exit 1
fi
if ! apt-get install -y --no-install-recommends chromium chromium-driver fonts-noto-color-emoji; then
    echo "setup_browser: ERROR: 'apt-get install chromium chromium-driver' failed." >&2
    exit 1
fi

if [[ ! -x "$CHROMIUM" || ! -x "$CHROMEDRIVER" ]]; then
    echo "setup_browser: ERROR: install finished but $CHROMIUM or $CHROMEDRIVER is missing." >&2
    exit 1
fi
echo "setup_browser: installed $("$CHROMIUM" --version 2>/dev/null) / $("$CHROMEDRIVER" --version 2>/dev/null)"
