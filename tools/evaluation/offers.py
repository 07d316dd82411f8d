"""Offer-check evaluation on the advert set (tests/eval_sets/offers/adverts.yml), for the
text path and the OCR path (Tesseract on the rendered screenshots in var/adverts/).

Prints, per path: per-flag precision/recall, the false-alarm rate on the legitimate
adverts, how many fake adverts get at least one correct flag, how the decision routes the
adverts (offer check, SI-SAGA hand-off, something else), and every miss. The OCR path also
gives the OCR time per image.

`python -m tools.evaluation.offers [--adverts FILE] [--images DIR] [--no-ocr]`
Missing or stale screenshots are rendered first (tools/evaluation/render_adverts.py).
Written apart from the rules: never copy an advert's wording into knowledge/offers/.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from teman.decision import CHECK_OFFER, REPORT, Assistant, get_assistant
from teman.offers.validate import REQUIRED_FLAGS

ADVERTS = Path("tests/eval_sets/offers/adverts.yml")
IMAGES = Path("var/adverts")


@dataclass
class Advert:
    id: str
    kind: str
    text: str
    flags: frozenset[str]


@dataclass
class Outcome:
    advert: Advert
    predicted: list[str]
    route: str
    evidence: dict[str, str] = field(default_factory=dict)
    ocr_seconds: float | None = None


def load(path: Path) -> list[Advert]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [Advert(str(a["id"]), str(a["kind"]), str(a["text"]),
                   frozenset(str(f) for f in a.get("flags") or ()))
            for a in data.get("adverts") or []]


def judge(assistant: Assistant, advert: Advert, text: str) -> Outcome:
    """The flags the detector finds, and what the decision does with the message."""
    check = assistant.offers.check(text)
    decision = assistant.decide(text)
    route = {CHECK_OFFER: "offer check", REPORT: "SI-SAGA hand-off"}.get(
        decision.intent, f"other ({decision.intent} {decision.kind})".strip())
    return Outcome(advert, check.flag_ids, route, {h.flag_id: h.evidence for h in check.hits})


@dataclass
class Scores:
    per_flag: dict[str, tuple[int, int, int]]  # tp, fp, fn
    false_alarms: int
    legit: int
    fakes_caught: int
    fakes: int
    shown_caught: int  # fakes whose reply (the offer check) shows a correct flag
    routes: Counter


def score(outcomes: list[Outcome]) -> Scores:
    per_flag = {}
    for flag in REQUIRED_FLAGS:
        tp = sum(1 for o in outcomes if flag in o.predicted and flag in o.advert.flags)
        fp = sum(1 for o in outcomes if flag in o.predicted and flag not in o.advert.flags)
        fn = sum(1 for o in outcomes if flag not in o.predicted and flag in o.advert.flags)
        per_flag[flag] = (tp, fp, fn)
    legit = [o for o in outcomes if o.advert.kind == "legit"]
    fakes = [o for o in outcomes if o.advert.kind == "fake"]
    caught = [o for o in fakes if set(o.predicted) & o.advert.flags]
    return Scores(
        per_flag=per_flag,
        false_alarms=sum(1 for o in legit if o.predicted),
        legit=len(legit),
        fakes_caught=len(caught),
        fakes=len(fakes),
        shown_caught=sum(1 for o in caught if o.route == "offer check"),
        routes=Counter((o.advert.kind, o.route) for o in outcomes),
    )


def _ratio(a: int, b: int) -> str:
    return f"{100 * a / b:5.1f}" if b else "    -"


def report(name: str, s: Scores, outcomes: list[Outcome]) -> dict:
    print(f"\n== {name} path ==")
    print(f"  {'flag':24s} {'support':>7s} {'P %':>6s} {'R %':>6s}   tp fp fn")
    micro = [0, 0, 0]
    for flag, (tp, fp, fn) in s.per_flag.items():
        micro = [micro[0] + tp, micro[1] + fp, micro[2] + fn]
        print(f"  {flag:24s} {tp + fn:7d} {_ratio(tp, tp + fp):>6s} {_ratio(tp, tp + fn):>6s}"
              f"   {tp:2d} {fp:2d} {fn:2d}")
    tp, fp, fn = micro
    print(f"  {'all flags (micro)':24s} {tp + fn:7d} {_ratio(tp, tp + fp):>6s} "
          f"{_ratio(tp, tp + fn):>6s}   {tp:2d} {fp:2d} {fn:2d}")
    print(f"  fake adverts with >= 1 correct flag: {s.fakes_caught}/{s.fakes}"
          f" ({_ratio(s.fakes_caught, s.fakes).strip()} %); shown in an offer-check reply: "
          f"{s.shown_caught}/{s.fakes}")
    print(f"  legitimate adverts with a flag (false alarms): {s.false_alarms}/{s.legit}"
          f" ({_ratio(s.false_alarms, s.legit).strip()} %)")
    print("  routing: " + ", ".join(f"{k[0]} -> {k[1]}: {v}" for k, v in sorted(s.routes.items())))
    misses = []
    for o in outcomes:
        wrong = set(o.predicted) - o.advert.flags
        missed = o.advert.flags - set(o.predicted)
        if wrong or missed or (o.advert.kind == "fake" and o.route != "offer check"):
            extra = ", ".join(f"{f} «{o.evidence.get(f, '')[:40]}»" for f in sorted(wrong))
            misses.append(f"  {o.advert.id:9s} [{o.route}] missed {sorted(missed) or '-'}; "
                          f"wrong: {extra or '-'}")
    if misses:
        print("  misses:")
        print("\n".join(misses))
    return {
        "per_flag": {f: dict(zip(("tp", "fp", "fn"), v, strict=True))
                     for f, v in s.per_flag.items()},
        "micro": {"tp": tp, "fp": fp, "fn": fn},
        "fakes_caught": s.fakes_caught, "fakes": s.fakes, "shown_caught": s.shown_caught,
        "false_alarms": s.false_alarms, "legit": s.legit,
    }


def ocr_outcomes(assistant: Assistant, adverts: list[Advert], images: Path,
                 adverts_file: Path) -> list[Outcome]:
    from teman.ocr import read_text
    from tools.evaluation.render_adverts import load_adverts, render_all

    print(f"rendering screenshots that are missing or stale in {images} ...", flush=True)
    render_all(load_adverts(adverts_file), images, _chromium())
    outcomes = []
    for i, advert in enumerate(adverts, 1):
        data = (images / f"{advert.id}.png").read_bytes()
        result = read_text(data)
        outcome = judge(assistant, advert, result.text)
        outcome.ocr_seconds = result.seconds
        outcomes.append(outcome)
        print(f"\r  OCR {i}/{len(adverts)}", end="", flush=True, file=sys.stderr)
    print(file=sys.stderr)
    return outcomes


def _chromium() -> str:
    import shutil

    return shutil.which("chromium") or "/usr/bin/chromium"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--adverts", type=Path, default=ADVERTS)
    parser.add_argument("--images", type=Path, default=IMAGES)
    parser.add_argument("--no-ocr", action="store_true", help="text path only")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args(argv)
    adverts = load(args.adverts)
    assistant = get_assistant()
    started = time.perf_counter()
    text = [judge(assistant, a, a.text) for a in adverts]
    print(f"{len(adverts)} adverts ({sum(a.kind == 'fake' for a in adverts)} fake) from "
          f"{args.adverts}; text path in {time.perf_counter() - started:.1f} s")
    result = {"text": report("text", score(text), text)}
    if not args.no_ocr:
        ocr = ocr_outcomes(assistant, adverts, args.images, args.adverts)
        result["ocr"] = report("OCR", score(ocr), ocr)
        seconds = [o.ocr_seconds or 0.0 for o in ocr]
        ordered = sorted(seconds)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        print(f"  OCR time per image: mean {statistics.mean(seconds):.2f} s, "
              f"p50 {statistics.median(seconds):.2f} s, p95 {p95:.2f} s")
        result["ocr_seconds"] = {"mean": statistics.mean(seconds), "p95": p95}
        t, o = result["text"]["micro"], result["ocr"]["micro"]
        print(f"\nmicro recall text {_ratio(t['tp'], t['tp'] + t['fn']).strip()} % vs OCR "
              f"{_ratio(o['tp'], o['tp'] + o['fn']).strip()} %; micro precision text "
              f"{_ratio(t['tp'], t['tp'] + t['fp']).strip()} % vs OCR "
              f"{_ratio(o['tp'], o['tp'] + o['fp']).strip()} %")
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
