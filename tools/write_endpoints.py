"""Write the Rasa endpoints file `scripts/run_bot.sh` starts Rasa with.

`python -m tools.write_endpoints OUT --service-url URL [--token T]`
The decision service is both Rasa's external NLU and its action server. The tracker store
comes from settings (`tracker_store_url`, env TEMAN_TRACKER_STORE_URL); this is the one
place a database URL is split into what Rasa's SQL tracker store takes.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

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


DEFAULT_EVENT_QUEUE = "rasa_core_events"
DEFAULT_EVENT_EXCHANGE = "rasa-exchange"


def event_broker(env: Mapping[str, str]) -> dict[str, Any] | None:
    """Rasa's pika event broker from RABBITMQ_URL (amqp://user:pass@host:port/vhost), or None.

    RABBITMQ_QUEUE (default rasa_core_events) is the queue the analytics consumer reads;
    RABBITMQ_EXCHANGE (default rasa-exchange, a fanout exchange) lets several bots share
    one RabbitMQ without receiving each other's events.
    """
    url = env.get("RABBITMQ_URL", "").strip()
    if not url:
        return None
    parts = urlsplit(url)
    vhost = unquote(parts.path[1:]) if len(parts.path) > 1 else ""
    vhost = "" if vhost == "/" else vhost  # %2F: the default vhost
    host = parts.hostname or "127.0.0.1"
    broker: dict[str, Any] = {
        "type": "pika",
        # Rasa builds an amqp URL itself when `url` starts with amqp: needed for a vhost.
        "url": f"{parts.scheme}://{host}/{parts.path[1:]}" if vhost else host,
        "port": parts.port or 5672,
        "username": unquote(parts.username or "guest"),
        "password": unquote(parts.password or "guest"),
        "queues": [env.get("RABBITMQ_QUEUE", "").strip() or DEFAULT_EVENT_QUEUE],
        "exchange_name": env.get("RABBITMQ_EXCHANGE", "").strip() or DEFAULT_EVENT_EXCHANGE,
    }
    return broker


def endpoints(
    service_url: str,
    token: str | None,
    tracker_url: str,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    action: dict[str, Any] = {"url": f"{service_url}/webhook"}
    nlu: dict[str, Any] = {"url": service_url}
    if token:
        action["token"] = token
        nlu["token"] = token
    out: dict[str, Any] = {"action_endpoint": action, "nlu": nlu}
    if tracker_url != "memory":  # "memory": Rasa's in-memory store (nothing kept, no redaction)
        out["tracker_store"] = tracker_store(tracker_url)
    broker = event_broker(os.environ if env is None else env)
    if broker is not None:
        out["event_broker"] = broker
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
