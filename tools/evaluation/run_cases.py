"""Run evaluation case files against a running bot over Rasa's REST channel.

`python -m tools.evaluation.run_cases --url http://127.0.0.1:5005 FILE [FILE ...]`
Each case is a fresh conversation (multi-turn cases send their `turns` in order); the
tracker, read with `?token=$RASA_API_TOKEN`, shows whether the hand-off ran. Prints
accuracy per kind and per tag and every miss (`--summary`: figures only, for the sealed
set); exit code 1 if any case failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from collections import defaultdict
from pathlib import Path

import aiohttp

from tools.evaluation.cases import HANDOFF_ACTION, Case, judge, load_cases

Result = tuple[Case, str, str | None]


async def ask(
    session: aiohttp.ClientSession, url: str, case: Case, token: str | None
) -> tuple[str, bool]:
    sender = f"eval-{case.id}-{uuid.uuid4().hex[:8]}"
    messages: list[dict[str, object]] = []
    for text in case.messages:
        async with session.post(
            f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text}
        ) as resp:
            resp.raise_for_status()
            messages = await resp.json()
    reply = "\n".join(str(m.get("text", "")) for m in messages if m.get("text"))
    params = {"token": token} if token else {}
    async with session.get(f"{url}/conversations/{sender}/tracker", params=params) as resp:
        resp.raise_for_status()
        tracker = await resp.json()
    actions = {e.get("name") for e in tracker.get("events", []) if e.get("event") == "action"}
    return reply, HANDOFF_ACTION in actions


async def run(
    url: str, cases: list[Case], concurrency: int, token: str | None = None
) -> list[Result]:
    semaphore = asyncio.Semaphore(concurrency)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def one(case: Case) -> Result:
            async with semaphore:
                try:
                    reply, escalated = await ask(session, url, case, token)
                except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                    return case, "", f"request failed: {error!r}"
                return case, reply, judge(case, reply, escalated)

        return await asyncio.gather(*(one(c) for c in cases))


def summarise(results: list[Result]) -> dict[str, object]:
    per_kind: dict[str, list[bool]] = defaultdict(list)
    per_tag: dict[str, list[bool]] = defaultdict(list)
    for case, _reply, reason in results:
        per_kind[case.kind].append(reason is None)
        for tag in case.tags:
            per_tag[tag].append(reason is None)
    risk = per_kind.get("risk") or []
    return {
        "cases": len(results),
        "passed": sum(1 for *_, reason in results if reason is None),
        "per_kind": {k: [sum(v), len(v)] for k, v in sorted(per_kind.items())},
        "per_tag": {k: [sum(v), len(v)] for k, v in sorted(per_tag.items())},
        "risk_recall": round(sum(risk) / len(risk), 3) if risk else None,
        "false_handoffs": sum(1 for _, _, r in results if r == "unexpected hand-off"),
    }


def report(results: list[Result], show_misses: bool = True) -> int:
    misses = [(c, reply, r) for c, reply, r in results if r is not None]
    if show_misses:
        for case, reply, reason in misses:
            print(f"MISS {case.source}:{case.id} [{case.kind}] {reason}")
            print(f"     text:  {case.text[:160]!r}")
            print(f"     reply: {reply[:240]!r}")
    summary = summarise(results)

    def line(name: str, ok: int, total: int) -> str:
        return f"  {name:15s} {ok:4d}/{total:<4d} {ok / max(total, 1):.3f}"

    print("\naccuracy per kind:")
    for kind, (ok, total) in summary["per_kind"].items():  # type: ignore[union-attr]
        print(line(kind, ok, total))
    print(line("all", int(summary["passed"]), int(summary["cases"])))  # type: ignore[arg-type]
    if summary["per_tag"]:
        print("accuracy per tag:")
        for tag, (ok, total) in summary["per_tag"].items():  # type: ignore[union-attr]
            print(line(tag, ok, total))
    if summary["risk_recall"] is not None:
        print(f"  risk recall: {summary['risk_recall']:.3f}")
    print(f"  false hand-offs: {summary['false_handoffs']}")
    return 1 if misses else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--url", default="http://127.0.0.1:5005")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--summary", action="store_true", help="figures only, no misses")
    parser.add_argument("--json-out", type=Path, help="write the figures as JSON")
    args = parser.parse_args()
    token = os.environ.get("RASA_API_TOKEN") or None
    status = 0
    for path in args.files:
        cases = load_cases(path)
        print(f"\n== {path}: {len(cases)} cases against {args.url}")
        results = asyncio.run(run(args.url, cases, args.concurrency, token))
        status |= report(results, show_misses=not args.summary)
        if args.json_out:
            figures = json.loads(args.json_out.read_text()) if args.json_out.exists() else {}
            figures[str(path)] = summarise(results)
            args.json_out.write_text(json.dumps(figures, indent=2))
    return status


if __name__ == "__main__":
    sys.exit(main())
