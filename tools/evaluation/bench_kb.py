"""Staff-side speed (`make bench`, printed, never asserted): `kb validate` with and without
the near-duplicate check, an edited entry published to a running decision service and the
time until it answers from it, and full builds with and without fine-tuning.

Works on a copy of knowledge/ and of the index (hard links), so nothing of the project
changes. `python -m tools.evaluation.bench_kb [--finetune]` (--finetune trains the encoder
from scratch into a temporary cache: minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from teman.config import ROOT, Settings

NEW_QUESTION = "bisa ga pinjam kur buat ongkos pesawat ke taiwan"


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    return time.perf_counter() - start, done


def _post(url: str, body: dict[str, object], token: str | None = None) -> dict[str, object]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, json.dumps(body).encode(), headers)
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read())


def _wait_health(url: str, proc: subprocess.Popen[bytes]) -> None:
    while True:
        if proc.poll() is not None:
            raise RuntimeError("decision service exited")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2):
                return
        except OSError:
            time.sleep(0.5)


def _entry_of(parse: dict[str, object]) -> str:
    for entity in parse.get("entities") or ():  # type: ignore[union-attr]
        if entity.get("entity") == "entry_id":
            return str(entity.get("value"))
    return ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--finetune", action="store_true", help="also time a fresh fine-tune")
    args = parser.parse_args()
    settings = Settings.load()
    py = sys.executable
    work = Path(tempfile.mkdtemp(prefix="bench-kb-"))
    knowledge, index = work / "knowledge", work / "index"
    shutil.copytree(settings.knowledge_dir, knowledge)
    shutil.copytree(settings.index_dir, index, symlinks=True, copy_function=os.link)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TEMAN_KNOWLEDGE_DIR": str(knowledge),
           "TEMAN_INDEX_DIR": str(index), "TEMAN_RUN_DIR": str(work / "run")}
    print("knowledge base tools (kb):")
    original = (knowledge / "entries" / "kur.yml").read_text(encoding="utf-8")
    try:
        slow, _ = _timed([py, "-m", "tools.kb", "validate"], env)
        fast, _ = _timed([py, "-m", "tools.kb", "validate", "--fast"], env)
        print(f"  kb validate: {slow:.1f} s (goal <= 15), --fast without near-duplicates "
              f"{fast:.1f} s (goal <= 5)")

        port = 20000 + secrets.randbelow(20000)
        token = secrets.token_hex(8)
        service_env = {**env, "TEMAN_ADMIN_TOKEN": token}
        service = subprocess.Popen(
            [py, "-m", "teman.service", "--port", str(port)], cwd=ROOT, env=service_env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_health(url, service)
            path = knowledge / "entries" / "kur.yml"
            text = path.read_text(encoding="utf-8")
            marker = "    questions:\n"
            edited = text.replace(marker, f"{marker}      - {NEW_QUESTION}\n", 1)
            path.write_text(edited, encoding="utf-8")
            start = time.perf_counter()
            result = _post(url + "/admin/build", {"knowledge_dir": str(knowledge)}, token)
            publish = time.perf_counter() - start
            start = time.perf_counter()
            parse = _post(url + "/model/parse", {"text": NEW_QUESTION})
            live = time.perf_counter() - start
            print(f"  one edited entry via the running service: {publish:.1f} s "
                  f"({result.get('encoded')} phrasing encoded, status {result.get('status')}); "
                  f"+ validation ~{fast:.1f} s = kb build ~{publish + fast:.1f} s (goal <= 10)")
            print(f"  live after it returned: first request {live * 1000:.0f} ms answers from "
                  f"'{_entry_of(parse)}' (goal <= 5 s)")
        finally:
            service.terminate()
            service.wait(timeout=60)

        path = knowledge / "entries" / "kur.yml"
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace(f"      - {NEW_QUESTION}\n", f"      - {NEW_QUESTION}\n"
                                     "      - kur bisa buat bayar pelatihan bahasa ga\n", 1),
                        encoding="utf-8")
        offline, _ = _timed([py, "-m", "tools.build_index"], env)
        print(f"  the same kind of edit built offline (no running bot): {offline:.1f} s")
        path.write_text(original, encoding="utf-8")  # the content the cached encoder knows
        nofit_env = {**env, "TEMAN_FINETUNE": "false", "TEMAN_INDEX_DIR": str(work / "nofit")}
        seconds, _ = _timed([py, "-m", "tools.build_index", "--full"], nofit_env)
        print(f"  full build without fine-tuning: {seconds:.1f} s")
        cached, _ = _timed([py, "-m", "tools.build_index", "--full", "--force"], env)
        print(f"  full build with fine-tuning, encoder from the cache: {cached:.1f} s")
        if args.finetune:
            fresh_env = {**env, "TEMAN_ENCODER_CACHE": str(work / "encoders")}
            seconds, _ = _timed([py, "-m", "tools.build_index", "--full", "--force"], fresh_env)
            print(f"  full build with fine-tuning from scratch: {seconds:.1f} s")
        else:
            print("  (fine-tuning from scratch: BENCH_FINETUNE=1 make bench)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
