"""Typed intent syntax is only text on the messaging channels too, through the real stack:
a signed WhatsApp / Twilio webhook, the decision service, Rasa, and replies to a fake API.
Trackers are keyed by a hash of the number, never the number itself."""

from __future__ import annotations

import base64
import hashlib
import hmac
import sqlite3
import time
import urllib.parse
import urllib.request
import uuid

from tests.support.channel_env import TWILIO
from tests.support.whatsapp_payload import signed_headers, webhook_body
from tools.evaluation.cases import HANDOFF_ACTION

REPORT = "kakak sa di malaysia, paspornya ditahan majikan"


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=60) as response:
        return int(response.status)


def whatsapp_text(stack, number: str, text: str) -> None:
    body = webhook_body(number, "text", {"body": text})
    status = post(f"{stack.rasa_url}/webhooks/whatsapp/webhook", body, signed_headers(body))
    assert status == 200


def twilio_text(stack, number: str, text: str) -> None:
    url = f"{stack.rasa_url}/webhooks/twilio_whatsapp/webhook"
    params = {"From": f"whatsapp:+{number}", "To": TWILIO["TWILIO_WHATSAPP_NUMBER"],
              "Body": text, "MessageSid": "SM" + uuid.uuid4().hex}
    signed = url + "".join(k + params[k] for k in sorted(params))
    digest = hmac.new(TWILIO["TWILIO_AUTH_TOKEN"].encode(), signed.encode(), hashlib.sha1)
    status = post(url, urllib.parse.urlencode(params).encode(), {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": base64.b64encode(digest.digest()).decode(),
    })
    assert status == 200


def senders(stack, prefix: str) -> set[str]:
    with sqlite3.connect(stack.trackers_db) as conn:
        rows = conn.execute(
            "SELECT DISTINCT sender_id FROM events WHERE sender_id LIKE ?", (prefix + "%",)
        ).fetchall()
    return {r[0] for r in rows}


def converse(stack, send, number: str, prefix: str) -> str:
    """Report, then type "/affirm"; returns the tracker key of this conversation."""
    before = senders(stack, prefix)
    count = len(stack.graph.delivered())
    send(stack, number, REPORT)
    # The hand-off sends its hotline messages (several) to the fake API.
    stack.graph.wait_for_count(count + 3)
    # Rasa saves the tracker after the replies went out: wait for the row, not the replies.
    deadline = time.monotonic() + 60
    new = senders(stack, prefix) - before
    while not new and time.monotonic() < deadline:
        time.sleep(0.1)
        new = senders(stack, prefix) - before
    assert len(new) == 1, new
    sender = new.pop()
    assert HANDOFF_ACTION in stack.actions(sender)
    count = len(stack.graph.delivered())
    send(stack, number, "/affirm")
    stack.graph.wait_for_count(count + 1)
    return sender


def assert_no_consent(stack, sender: str) -> None:
    tracker = stack.tracker(sender)
    assert tracker["latest_message"]["text"] == "/affirm"
    assert tracker["latest_message"]["intent"]["name"] != "affirm"
    assert (tracker.get("active_loop") or {}).get("name") != "handoff_form"
    assert "action_handoff_consent" not in stack.actions(sender)


def test_whatsapp_typed_affirm_is_text_and_trackers_hide_the_number(stack) -> None:
    number = "62812" + str(uuid.uuid4().int)[:7]
    sender = converse(stack, whatsapp_text, number, "wa:")
    assert number not in sender
    assert_no_consent(stack, sender)
    assert number.encode() not in stack.trackers_db.read_bytes()
    for log in ("rasa", "service"):
        assert number not in stack.log(log)


def test_twilio_typed_affirm_is_text_and_trackers_hide_the_number(stack) -> None:
    number = "62813" + str(uuid.uuid4().int)[:7]
    sender = converse(stack, twilio_text, number, "tw:")
    assert number not in sender
    assert_no_consent(stack, sender)
    assert number.encode() not in stack.trackers_db.read_bytes()
