"""Write the Rasa endpoints file `scripts/run_bot.sh` starts Rasa with.

`python -m tools.write_endpoints OUT --service-url URL [--token T]`
The decision service is both Rasa's external NLU and its action server. The tracker store
comes from settings (`tracker_store_url`, env TEMAN_TRACKER_STORE_URL); this is the one
place a database URL is split into what Rasa's SQL tracker store takes.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import make_url

from teman.config import Settings
from teman.privacy.trackers import resolve_url, sqlite_path


def tracker_store(url: str) -> dict[str, Any]:
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        return {"type": "SQL", "dialect": "sqlite", "db": str(path)}
    parsed = make_url(resolve_url(url))
    store: dict[str, Any] = {
        "type": "SQL",
        "dialect": parsed.get_backend_name(),
        "url": parsed.host,
        "db": parsed.database,
    }
    if parsed.port:
        store["port"] = parsed.port
    if parsed.username:
        store["username"] = parsed.username
    if parsed.password:
        store["password"] = parsed.password
    return store


def endpoints(service_url: str, token: str | None, tracker_url: str) -> dict[str, Any]:
    action: dict[str, Any] = {"url": f"{service_url}/webhook"}
    nlu: dict[str, Any] = {"url": service_url}
    if token:
        action["token"] = token
        nlu["token"] = token
    out: dict[str, Any] = {"action_endpoint": action, "nlu": nlu}
    if tracker_url != "memory":  # "memory": Rasa's in-memory store (nothing kept, no redaction)
        out["tracker_store"] = tracker_store(tracker_url)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--service-url", required=True)
    parser.add_argument("--token", default=None)
    args = parser.parse_args()
    data = endpoints(args.service_url, args.token, Settings.load().tracker_store_url)
    args.out.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


if __name__ == "__main__":
    main()
