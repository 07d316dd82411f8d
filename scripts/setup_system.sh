#!/usr/bin/env bash
# Debian packages the project needs beyond Python: headless Chromium + chromedriver (demo-page
# tests), the emoji font (faithful screenshots), tesseract with Indonesian data (OCR of job-offer
# screenshots), DejaVu fonts (rendered test adverts), nginx (production mode) and openssl
# (the self-signed certificate of the tests' local SMTP server).
# Idempotent: installs only what is missing. Needs root (apt-get).
set -euo pipefail

declare -A CHECK=(
    [chromium]=/usr/bin/chromium
    [chromium-driver]=/usr/bin/chromedriver
    [fonts-noto-color-emoji]=/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf
    [fonts-dejavu-core]=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
    [tesseract-ocr]=/usr/bin/tesseract
    [tesseract-ocr-ind]=/usr/share/tesseract-ocr/5/tessdata/ind.traineddata
    [nginx]=/usr/sbin/nginx
    [openssl]=/usr/bin/openssl
)
missing=()
for pkg in "${!CHECK[@]}"; do
    [[ -e "${CHECK[$pkg]}" ]] || missing+=("$pkg")
done
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "setup_system: all Debian packages present."
    exit 0
fi
if [[ "$(id -u)" -ne 0 ]]; then
    echo "setup_system: ERROR: must run as root to apt-get install: ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "setup_system: installing ${missing[*]}"
if ! apt-get update -q >/dev/null; then
    echo "setup_system: ERROR: 'apt-get update' failed (no network or broken sources?)." >&2
    exit 1
fi
if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; then
    echo "setup_system: ERROR: 'apt-get install ${missing[*]}' failed." >&2
    exit 1
fi
# nginx from Debian starts a default site on port 80 when installed; the project runs its own
# nginx with its own config (make run-prod), so the packaged service is stopped.
if [[ " ${missing[*]} " == *" nginx "* ]]; then
    nginx -s stop 2>/dev/null || true
fi
for pkg in "${missing[@]}"; do
    if [[ ! -e "${CHECK[$pkg]}" ]]; then
        echo "setup_system: ERROR: $pkg installed but ${CHECK[$pkg]} is missing." >&2
        exit 1
    fi
done
echo "setup_system: installed ${missing[*]}"
