"""Run evaluation case files against a running bot over Rasa's REST channel.

`python -m actions.evaluation.run_cases --url http://127.0.0.1:5005 FILE [FILE ...]`
Each case is a fresh conversation; the tracker shows whether the hand-off ran.
Prints accuracy per kind and every miss; exit code 1 if any case failed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from collections import defaultdict
from pathlib import Path

import aiohttp

from actions.evaluation.cases import HANDOFF_ACTION, Case, judge, load_cases


async def ask(session: aiohttp.ClientSession, url: str, case: Case) -> tuple[str, bool]:
    sender = f"eval-{case.id}-{uuid.uuid4().hex[:8]}"
    async with session.post(
        f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": case.text}
    ) as resp:
        resp.raise_for_status()
        messages = await resp.json()
    reply = "\n".join(str(m.get("text", "")) for m in messages if m.get("text"))
    async with session.get(f"{url}/conversations/{sender}/tracker") as resp:
        resp.raise_for_status()
        tracker = await resp.json()
    actions = {e.get("name") for e in tracker.get("events", []) if e.get("event") == "action"}
    return reply, HANDOFF_ACTION in actions


async def run(url: str, cases: list[Case], concurrency: int) -> list[tuple[Case, str, str | None]]:
    semaphore = asyncio.Semaphore(concurrency)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def one(case: Case) -> tuple[Case, str, str | None]:
            async with semaphore:
                try:
                    reply, escalated = await ask(session, url, case)
                except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                    return case, "", f"request failed: {error!r}"
                return case, reply, judge(case, reply, escalated)

        return await asyncio.gather(*(one(c) for c in cases))


def report(results: list[tuple[Case, str, str | None]], show_replies: bool = True) -> int:
    per_kind: dict[str, list[bool]] = defaultdict(list)
    misses = 0
    for case, reply, reason in results:
        per_kind[case.kind].append(reason is None)
        if reason is not None:
            misses += 1
            print(f"MISS {case.source}:{case.id} [{case.kind}] {reason}")
            print(f"     text:  {case.text[:160]!r}")
            if show_replies:
                print(f"     reply: {reply[:240]!r}")
    print("\naccuracy per kind:")
    for kind, oks in sorted(per_kind.items()):
        print(f"  {kind:15s} {sum(oks):4d}/{len(oks):<4d} {sum(oks) / len(oks):.3f}")
    total = sum(len(v) for v in per_kind.values())
    passed = total - misses
    print(f"  {'all':15s} {passed:4d}/{total:<4d} {passed / max(total, 1):.3f}")
    risk = per_kind.get("risk")
    if risk:
        print(f"  risk recall: {sum(risk) / len(risk):.3f}")
    false_handoffs = sum(1 for case, _, reason in results if reason == "unexpected hand-off")
    print(f"  false hand-offs: {false_handoffs}")
    return 1 if misses else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--url", default="http://127.0.0.1:5005")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    cases = [c for f in args.files for c in load_cases(f)]
    names = ", ".join(str(f) for f in args.files)
    print(f"running {len(cases)} cases from {names} against {args.url}")
    return report(asyncio.run(run(args.url, cases, args.concurrency)))


if __name__ == "__main__":
    sys.exit(main())
