"""HTTP load against a running Rasa server's REST channel (loopback only), bounded in count.

`python -m tools.evaluation.load --url URL --messages 300 --concurrency 8 --pids 123,456`
Prints messages per second, latency p50/p95/max, errors and the resident memory of the
given processes. `--conversations 200 --turns 10` instead runs 200 conversations at once,
each sending 10 messages one after the other (production mode: `--url https://127.0.0.1:
8080 --cafile cert`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

MESSAGES = [
    "halo",
    "syarat jadi pmi apa aja",
    "brp umur minimal kerja di luar negri",
    "kur penempatan pake jaminan ga",
    "alamat ltsa kupang dimana",
    "makasih kak",
    "visa turis bisa buat kerja?",
    "nomor si saga brp",
]


def rss_mb(pids: list[int]) -> float:
    """Resident memory of the processes and their children, in MB (from /proc)."""
    total_kb = 0
    seen: set[int] = set()
    queue = list(pids)
    while queue:
        pid = queue.pop()
        if pid in seen:
            continue
        seen.add(pid)
        status = Path(f"/proc/{pid}/status")
        if not status.exists():
            continue
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                total_kb += int(line.split()[1])
        children = Path(f"/proc/{pid}/task/{pid}/children")
        if children.exists():
            queue.extend(int(c) for c in children.read_text().split())
    return total_kb / 1024


async def _timed_post(session: aiohttp.ClientSession, url: str, body: dict[str, str],
                      latencies: list[float]) -> bool:
    """One REST message; its latency (ms) is appended; True when the bot answered 200."""
    start = time.perf_counter()
    try:
        async with session.post(f"{url}/webhooks/rest/webhook", json=body) as resp:
            await resp.read()
            ok = resp.status == 200
    except (aiohttp.ClientError, asyncio.TimeoutError):
        ok = False
    latencies.append((time.perf_counter() - start) * 1000)
    return ok


async def run(url: str, count: int, concurrency: int) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    errors = 0
    semaphore = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def one(i: int) -> None:
            nonlocal errors
            body = {
                "sender": f"load-{uuid.uuid4().hex[:8]}",
                "message": MESSAGES[i % len(MESSAGES)],
            }
            async with semaphore:
                if not await _timed_post(session, url, body, latencies):
                    errors += 1

        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(count)))
        return time.perf_counter() - start, latencies, errors


async def conversations(url: str, count: int, turns: int, ssl_context: Any
                        ) -> tuple[float, list[float], int]:
    """`count` conversations at once, each `turns` messages in sequence."""
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=count, ssl=ssl_context)
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:

        async def conversation(c: int) -> None:
            nonlocal errors
            sender = f"load-{uuid.uuid4().hex[:10]}"
            for t in range(turns):
                body = {"sender": sender, "message": MESSAGES[(c + t) % len(MESSAGES)]}
                if not await _timed_post(session, url, body, latencies):
                    errors += 1

        start = time.perf_counter()
        await asyncio.gather(*(conversation(c) for c in range(count)))
        return time.perf_counter() - start, latencies, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--label", default="bot")
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--pids", default="")
    parser.add_argument("--json-out", type=Path, help="append the figures under --label")
    parser.add_argument("--conversations", type=int, default=0)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--cafile", default=None, help="trust this certificate (https)")
    args = parser.parse_args()
    if not args.url.startswith(("http://127.", "http://localhost", "https://127.",
                                "https://localhost")):
        raise SystemExit("load tests only target this machine (loopback)")
    context = ssl.create_default_context(cafile=args.cafile) if args.cafile else None
    if args.conversations:
        asyncio.run(conversations(args.url, 8, 2, context))  # warm-up
        seconds, latencies, errors = asyncio.run(
            conversations(args.url, args.conversations, args.turns, context))
        args.messages = args.conversations * args.turns
    else:
        asyncio.run(run(args.url, 16, 4))  # warm-up
        seconds, latencies, errors = asyncio.run(run(args.url, args.messages,
                                                     args.concurrency))
    ordered = sorted(latencies)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    pids = [int(p) for p in args.pids.split(",") if p]
    figures = {
        "msg_per_s": args.messages / seconds,
        "p50_ms": statistics.median(ordered),
        "p95_ms": p95,
        "max_ms": ordered[-1],
        "errors": errors,
        "messages": args.messages,
        "rss_mb": rss_mb(pids),
    }
    print(
        f"  {args.label:28s} {figures['msg_per_s']:6.1f} msg/s  "
        f"p50 {figures['p50_ms']:6.0f} ms  p95 {figures['p95_ms']:6.0f} ms  "
        f"max {figures['max_ms']:6.0f} ms  errors {errors}/{args.messages}  "
        f"RSS {figures['rss_mb']:6.0f} MB"
    )
    if args.json_out:
        data = json.loads(args.json_out.read_text()) if args.json_out.exists() else {}
        data[args.label] = figures
        args.json_out.write_text(json.dumps(data, indent=2))


if __name__ == "__main__":
    main()
