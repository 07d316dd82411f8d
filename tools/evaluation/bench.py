"""Decision benchmarks: latency p50/p95 of one whole decision (normalisation, encoding,
risk check, search) at the real size and with 10,000 synthetic entries, and index build
and load times. `python -m tools.evaluation.bench [--synthetic 10000]`
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from dataclasses import replace
from pathlib import Path

import faiss
import numpy as np

from teman.config import Settings
from teman.decision import Assistant
from teman.knowledge.loader import Entry, Source
from teman.retrieval.index import Documents, LoadedIndex, load_index
from teman.retrieval.lexical import AnswerScorer, LexicalScorer

QUERIES = [
    "brp umur minimal jd pmi",
    "beta mau pi kerja di hongkong, daftar di mana",
    "kur penempatan pake jaminan ga",
    "lowongan kerja di kamboja gaji 20 jt via telegram aman?",
    "visa ziarah bisa buat kerja ga",
    "biaya paspor pmi brp",
    "ltsa di sumba ada?",
    "nomor si saga",
]


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered), p95


def measure(assistant: Assistant, rounds: int) -> tuple[float, float]:
    """Milliseconds per decision, as the service makes it for `/model/parse`."""
    samples = []
    for query in QUERIES:  # warm-up
        assistant.parse(query)
    for _ in range(rounds):
        for query in QUERIES:
            start = time.perf_counter()
            assistant.parse(query)
            samples.append((time.perf_counter() - start) * 1000)
    return _percentiles(samples)


def synthetic_index(index: LoadedIndex, entries: int, seed: int = 7) -> tuple[LoadedIndex, float]:
    """Scale the real index to `entries` by recombining real phrasings; returns build seconds."""
    rng = random.Random(seed)
    words = " ".join(index.docs.texts).split()
    texts, owners, synthetic = [], [], []
    per_entry = 3  # keeps the synthetic build to a couple of minutes on 2 cores
    for e in range(entries):
        synthetic.append(
            Entry(f"syn-{e}", f"syn {e}", ("x",) * 8, "x", (Source("synthetic", "2026"),), "")
        )
        for _ in range(per_entry):
            texts.append(" ".join(rng.choices(words, k=rng.randint(4, 10))))
            owners.append(e)
    start = time.perf_counter()
    vectors = index.encoder.encode(texts, batch_size=128)
    faiss_index = faiss.IndexFlatIP(vectors.shape[1])
    faiss_index.add(vectors)
    lexical = LexicalScorer(texts)
    by_entry: list[list[str]] = [[] for _ in range(entries)]
    for text, owner in zip(texts, owners, strict=True):
        by_entry[owner].append(text)
    dialogue = list(index.kb.dialogue.entries) if index.kb.dialogue else []
    answers = AnswerScorer([" ".join(t) for t in by_entry] + [""] * len(dialogue))
    seconds = time.perf_counter() - start
    kb = replace(index.kb, entries=synthetic)
    docs = Documents(texts, np.asarray(owners, dtype="int64"))
    big = replace(
        index, kb=kb, docs=docs, faiss_index=faiss_index, lexical=lexical, answers=answers
    )
    return big, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--synthetic", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=25)
    args = parser.parse_args()
    settings = Settings.load()
    start = time.perf_counter()
    index = load_index(settings)
    load_seconds = time.perf_counter() - start
    print("decision service benchmark (one decision = normalise, encode, risk, search)")
    built = index.manifest["build_seconds"]
    print(f"  index build (last full build, fine-tuning included): {built} s")
    print(f"  index load at server start: {load_seconds:.1f} s")
    p50, p95 = measure(Assistant(settings, index), args.rounds)
    print(
        f"  real size ({len(index.kb.entries)} entries, {len(index.docs.texts)} phrasings): "
        f"p50 {p50:.1f} ms, p95 {p95:.1f} ms"
    )
    big, build_seconds = synthetic_index(index, args.synthetic)
    p50, p95 = measure(Assistant(settings, big), max(3, args.rounds // 5))
    print(
        f"  synthetic ({args.synthetic} entries, {len(big.docs.texts)} phrasings): "
        f"build {build_seconds:.1f} s, p50 {p50:.1f} ms, p95 {p95:.1f} ms"
    )
    ocr_latency()


def ocr_latency(folder: Path = Path("var/adverts"), limit: int = 20) -> None:
    """OCR time per image (photo or screenshot of an advert), on the rendered eval
    screenshots when `make eval-offers` made them, else on a generated picture."""
    from teman.ocr import read_text

    images = sorted(folder.glob("*.png"))[:limit] if folder.is_dir() else []
    label = f"{len(images)} advert screenshots in {folder}"
    if not images:
        images = [_text_picture()]
        label = "a generated 820 px advert picture (run `make eval-offers` for real ones)"
    samples = []
    for image in images:
        data = image.read_bytes() if isinstance(image, Path) else image
        samples.append(read_text(data).seconds * 1000)
    p50, p95 = _percentiles(samples)
    print(f"  OCR per image ({label}): p50 {p50:.0f} ms, p95 {p95:.0f} ms")


def _text_picture() -> bytes:
    import io

    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 28)
    lines = [f"Baris iklan lowongan kerja nomor {i}: gaji, syarat, kontak" for i in range(20)]
    image = Image.new("RGB", (820, 60 + 44 * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((30, 30 + 44 * i), line, fill="black", font=font)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


if __name__ == "__main__":
    main()
