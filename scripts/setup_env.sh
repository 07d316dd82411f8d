#!/usr/bin/env bash
# Create or update the two Python environments this project needs.
#   rasa:    Python 3.10 + rasa 3.6.21          (Rasa server)
#   actions: Python 3.11 + torch + retrieval     (rasa-sdk action server)
# Idempotent: an environment is rebuilt only when pyproject.toml or this script changed.
# Usage: scripts/setup_env.sh [rasa|actions|all]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV_HOME="${TEMAN_VENV_HOME:-$HOME/.cache/teman-migrasi}"
WHICH="${1:-all}"

find_python() {
    # $1 = version like 3.10; prints an interpreter path or nothing.
    local ver="$1" cand
    for cand in "python$ver" "$HOME/.pyenv/versions/$ver"*/bin/python"$ver" \
                /usr/bin/python"$ver" /usr/local/bin/python"$ver"; do
        if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys' >/dev/null 2>&1; then
            command -v "$cand"
            return 0
        fi
    done
    if command -v pyenv >/dev/null 2>&1; then
        local p
        p="$(pyenv prefix "$ver" 2>/dev/null | head -n1 || true)"
        if [ -n "$p" ] && [ -x "$p/bin/python$ver" ]; then echo "$p/bin/python$ver"; return 0; fi
    fi
    return 1
}

pip_install() {
    # $1 = venv; the rest = pip arguments. Keeps pip's real errors, drops known noise.
    local venv="$1"; shift
    "$venv/bin/python" -m pip install --quiet "$@" 2>&1 \
        | { grep -v -E "WARNING: Location '|BuildBackendWarning|^ *!!|\*{20}|SPDX|license-files|2027-Feb-18|writing-pyproject|corresp\(dist|WheelFile\(|no longer be supported|be careful with folders|name as your package|^ *$" || true; }
    return "${PIPESTATUS[0]}"
}

fingerprint() {
    cat "$ROOT/pyproject.toml" "$ROOT/scripts/setup_env.sh" | sha256sum | cut -c1-16
}

ensure_env() {
    # $1 = name, $2 = python version, $3 = extra name
    local name="$1" ver="$2" extra="$3"
    local venv="$VENV_HOME/$name" stamp fp py start
    fp="$(fingerprint)"
    stamp="$venv/.teman-stamp"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$fp" ] && [ -x "$venv/bin/python" ]; then
        echo "[setup] $name environment up to date ($venv)"
        return 0
    fi
    start=$(date +%s)
    if ! py="$(find_python "$ver")"; then
        echo "[setup] ERROR: Python $ver not found (looked on PATH and in pyenv)." >&2
        echo "[setup]        Install it, e.g. 'pyenv install $ver', then run this again." >&2
        exit 1
    fi
    echo "[setup] building $name environment with $py in $venv (first time takes minutes)"
    mkdir -p "$VENV_HOME"
    [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
    pip_install "$venv" --upgrade pip wheel
    if [ "$name" = "actions" ]; then
        # The CPU build of torch lies in the machine's wheel folder (pip's find-links).
        pip_install "$venv" "torch==2.13.0"
        # asronlp only supplies its slang table; its own dependencies (Sastrawi: CC-BY-NC-SA,
        # matplotlib, wordcloud) are not wanted.
        pip_install "$venv" --no-deps "asronlp==0.1.20"
    fi
    pip_install "$venv" -e "$ROOT[$extra]"
    echo "$fp" > "$stamp"
    echo "[setup] $name environment ready in $(( $(date +%s) - start )) s"
}

case "$WHICH" in
    rasa) ensure_env rasa 3.10 rasa-server ;;
    actions) ensure_env actions 3.11 action-server ;;
    all) ensure_env rasa 3.10 rasa-server; ensure_env actions 3.11 action-server ;;
    *) echo "usage: $0 [rasa|actions|all]" >&2; exit 2 ;;
esac
