"""A tracker table laid out like Rasa's SQL tracker store, for privacy tests."""

from __future__ import annotations

import json

import sqlalchemy as sa

EVENTS = sa.Table(
    "events",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255), nullable=False),
    sa.Column("type_name", sa.String(255), nullable=False),
    sa.Column("timestamp", sa.Float),
    sa.Column("intent_name", sa.String(255)),
    sa.Column("action_name", sa.String(255)),
    sa.Column("data", sa.Text),
)


def user(sender: str, text: str, at: float) -> dict:
    data = {"event": "user", "timestamp": at, "text": text,
            "parse_data": {"text": text, "intent": {"name": "report_risk"},
                           "entities": [{"entity": "place", "value": "Soe"}]}}
    return {"sender_id": sender, "type_name": "user", "timestamp": at,
            "intent_name": "report_risk", "data": json.dumps(data)}


def bot(sender: str, at: float) -> dict:
    return {"sender_id": sender, "type_name": "bot", "timestamp": at, "intent_name": None,
            "data": json.dumps({"event": "bot", "text": "Terima kasih sudah cerita"})}


def rows(url: str) -> list[tuple[str, dict]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        query = sa.select(EVENTS).order_by(EVENTS.c.id)
        out = [(r.sender_id, json.loads(r.data)) for r in conn.execute(query)]
    engine.dispose()
    return out


def insert(url: str, *values: dict) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.insert(EVENTS), list(values))
    engine.dispose()
