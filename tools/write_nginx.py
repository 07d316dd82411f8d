"""Render deploy/nginx.conf.template for production mode (scripts/run_prod.sh).

`python -m tools.write_nginx OUT --run-dir DIR --port 8080 --upstream 127.0.0.1:5005
 --upstream 127.0.0.1:5006 --cert CERT --key KEY [--bind 0.0.0.0] [--rate 2r/s --burst 20]`
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1] / "deploy" / "nginx.conf.template"


def render(values: dict[str, str], upstreams: list[str]) -> str:
    text = TEMPLATE.read_text(encoding="utf-8")
    values = {**values, "UPSTREAMS": "\n".join(
        f"        server {u} max_fails=1 fail_timeout=1s;" for u in upstreams)}
    for name, value in values.items():
        text = text.replace(f"@@{name}@@", value)
    left = re.findall(r"@@[A-Z_]+@@", text)
    if left:
        raise SystemExit(f"nginx template: no value for {', '.join(sorted(set(left)))}")
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--port", required=True)
    parser.add_argument("--bind", default="0.0.0.0")
    parser.add_argument("--upstream", action="append", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--rate", default="2r/s")
    parser.add_argument("--burst", default="20")
    args = parser.parse_args()
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (args.run_dir / "nginx-tmp" / sub).mkdir(parents=True, exist_ok=True)
    args.out.write_text(render({
        "RUN_DIR": str(args.run_dir.resolve()), "PORT": str(args.port), "BIND": args.bind,
        "CERT": args.cert, "KEY": args.key, "RATE": args.rate, "BURST": str(args.burst),
    }, args.upstream), encoding="utf-8")


if __name__ == "__main__":
    main()
