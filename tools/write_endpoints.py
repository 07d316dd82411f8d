"""Write the Rasa endpoints file `scripts/run_bot.sh` starts Rasa with.

`python -m tools.write_endpoints OUT --service-url URL [--token T]`
The decision service is both Rasa's external NLU and its action server. The tracker store
comes from settings (`tracker_store_url`, env TEMAN_TRACKER_STORE_URL); URLs are split
into what Rasa's stores take in one place, `teman.infra.urls`. Production mode
(`scripts/run_prod.sh`): REDIS_URL adds Rasa's Redis lock store (keys under
TEMAN_REDIS_PREFIX), RABBITMQ_URL its pika event broker.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from teman.config import Settings
from teman.infra import urls
from teman.privacy.trackers import sqlite_path


def tracker_store(url: str) -> dict[str, Any]:
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        return {"type": "SQL", "dialect": "sqlite", "db": str(path)}
    return urls.sql_tracker_store(url)


def lock_store(env: Mapping[str, str]) -> dict[str, Any] | None:
    """Rasa's Redis lock store when REDIS_URL is set: replicas take turns per conversation."""
    url = env.get("REDIS_URL", "").strip()
    if not url:
        return None
    return urls.redis_lock_store(url, env.get("TEMAN_REDIS_PREFIX", "").strip() or "teman")


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
    return {
        "type": "pika",
        **urls.rabbitmq(url),
        "queues": [env.get("RABBITMQ_QUEUE", "").strip() or DEFAULT_EVENT_QUEUE],
        "exchange_name": env.get("RABBITMQ_EXCHANGE", "").strip() or DEFAULT_EVENT_EXCHANGE,
    }


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
    env = os.environ if env is None else env
    for name, section in (("lock_store", lock_store(env)), ("event_broker", event_broker(env))):
        if section is not None:
            out[name] = section
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
