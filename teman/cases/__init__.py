"""Durable hand-off case store and hotline forwarder for Teman Migrasi.

When a user reports a risk (held passport, trafficking, ...) the bot hands off to the
provincial hotline SI-SAGA. With the user's consent a case is stored here together with an
outbox row, and a separate worker (:mod:`teman.cases.forwarder`) delivers it to the hotline's
HTTP endpoint until it is acknowledged. Staff use :mod:`tools.cases_cli`.

The package only depends on SQLAlchemy, psycopg and aiohttp so that the rasa-sdk action
server, the forwarder worker and the staff CLI can all import it cheaply.
"""

from __future__ import annotations

__all__ = ["CASE_STATUSES"]

#: Every status a case row can have; "anonymous" rows are statistics only.
CASE_STATUSES: tuple[str, ...] = ("open", "forwarded", "closed", "anonymous")
