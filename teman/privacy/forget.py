"""Forget one person on request: their conversations, cases, outbox rows and number map.

Found by phone number (mapped to the WhatsApp/Twilio sender ids with the channels' own keyed
hash, ``bot.channels.pseudonym``), by a case reference (the case's sender hash is matched
against every conversation in the tracker store), or by a sender id (REST / demo page).
What already left the system cannot be taken back: deliveries SI-SAGA acknowledged are
listed so staff can ask the hotline to delete them too. Analytics tables hold counts only,
with nothing to find a person by.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.channels.pseudonym import ID_CONTEXT, channel_numbers, derive, sender_id_for
from teman.cases.store import CaseStore, ForgottenCase
from teman.config import ROOT
from teman.privacy.trackers import conversation_ids, delete_conversations

DEFAULT_COUNTRY_CODE = "62"
DEFAULT_SENDER_MAP = ROOT / "var" / "sender_map.db"


class ForgetError(ValueError):
    """The request cannot be carried out as given (message in Indonesian, for staff)."""


def normalize_phone(raw: str, country_code: str = DEFAULT_COUNTRY_CODE) -> str:
    """``0812-3456 7890`` / ``+62 812…`` / ``812…`` -> ``62812…`` (WhatsApp's spelling)."""
    digits = re.sub(r"\D", "", raw)
    if raw.strip().startswith("+") or digits.startswith(country_code):
        number = digits
    elif digits.startswith("0"):
        number = country_code + digits[1:]
    else:
        number = country_code + digits
    if not 8 <= len(number) <= 15:
        raise ForgetError(f"Nomor telepon tidak valid: {raw!r} (contoh: 0812-3456-7890)")
    return number


def phone_sender_ids(number: str, secret: str | None) -> list[str]:
    """The WhatsApp Cloud API and Twilio sender ids of one normalized number."""
    if not secret:
        raise ForgetError(
            "SENDER_ID_KEY tidak diatur: percakapan WhatsApp tidak bisa dicari dari nomor "
            "telepon. Jalankan dengan SENDER_ID_KEY yang sama dengan bot."
        )
    key = derive(secret, ID_CONTEXT)
    return [sender_id_for(prefix, key, spelled)
            for prefix, spelled in channel_numbers(number).items()]


@dataclass
class ForgetReport:
    """What was deleted, and what cannot be recalled."""

    conversations: dict[str, int] = field(default_factory=dict)  # sender id -> rows
    number_map_rows: int = 0
    cases: list[ForgottenCase] = field(default_factory=list)
    dry_run: bool = False

    @property
    def events_deleted(self) -> int:
        return sum(self.conversations.values())

    @property
    def not_recallable(self) -> list[tuple[str, str, str]]:
        """(reference, target, delivered at) of deliveries SI-SAGA already received."""
        return [
            (case.reference, target, at.strftime("%Y-%m-%d %H:%M UTC"))
            for case in self.cases
            for target, at in case.delivered
        ]

    @property
    def found_anything(self) -> bool:
        return bool(self.conversations or self.number_map_rows or self.cases)


def _delete_number_map(path: Path, sender_ids: Sequence[str], dry_run: bool) -> int:
    """Remove the encrypted number rows the channels keep for proactive replies."""
    if not path.exists() or not sender_ids:
        return 0
    marks = ",".join("?" * len(sender_ids))
    with sqlite3.connect(path, timeout=10) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        if "sender_map" not in tables:
            return 0
        if dry_run:
            query = f"SELECT COUNT(*) FROM sender_map WHERE sender_id IN ({marks})"  # noqa: S608
            return int(conn.execute(query, list(sender_ids)).fetchone()[0])
        query = f"DELETE FROM sender_map WHERE sender_id IN ({marks})"  # noqa: S608
        return conn.execute(query, list(sender_ids)).rowcount


def _count_conversations(url: str, sender_ids: Sequence[str]) -> dict[str, int]:
    known = set(conversation_ids(url))
    return {s: 1 for s in sender_ids if s in known}


def forget(
    store: CaseStore,
    tracker_url: str,
    *,
    sender_ids: Sequence[str] = (),
    reference: str | None = None,
    sender_map_path: Path = DEFAULT_SENDER_MAP,
    dry_run: bool = False,
) -> ForgetReport:
    """Delete everything kept about the person behind these sender ids / this case."""
    ids = list(dict.fromkeys(sender_ids))
    references: list[str] = []
    hashes = [store.hash_sender(s) for s in ids]
    if reference is not None:
        case_hash = store.hash_of_reference(reference)  # CaseNotFoundError when unknown
        references.append(reference)
        if case_hash is not None:
            hashes.append(case_hash)
            ids += [s for s in conversation_ids(tracker_url)
                    if s not in ids and store.hash_sender(s) == case_hash]
    report = ForgetReport(dry_run=dry_run)
    if dry_run:
        report.conversations = _count_conversations(tracker_url, ids)
        report.cases = store.forget(
            sender_hashes=hashes, references=references, dry_run=True
        )
    else:
        report.cases = store.forget(sender_hashes=hashes, references=references)
        report.conversations = delete_conversations(tracker_url, ids)
    report.number_map_rows = _delete_number_map(sender_map_path, ids, dry_run)
    return report


def sender_ids_for_request(
    env: Mapping[str, str], *, phone: str | None, sender_id: str | None
) -> list[str]:
    """The sender ids a staff request names (phone numbers need SENDER_ID_KEY)."""
    out: list[str] = []
    if phone:
        number = normalize_phone(phone, env.get("FORGET_COUNTRY_CODE") or DEFAULT_COUNTRY_CODE)
        out += phone_sender_ids(number, env.get("SENDER_ID_KEY"))
    if sender_id:
        out.append(sender_id.strip())
    return out
