"""No phone number or message text in any log of production mode (Rasa's own, the
decision service, the forwarder, nginx, the supervisor) after a full conversation: REST
chat and a WhatsApp hand-off that leaves a contact number."""

from __future__ import annotations

import re
import uuid

from tests.prod.conftest import (
    Prod,
    post_whatsapp,
    sender_id,
    wait_sent,
    wait_turns,
    whatsapp_body,
)


def test_logs_hold_no_number_and_no_text(prod: Prod) -> None:
    rest_text = f"kak, apa itu kur penempatan zebrakuning{uuid.uuid4().hex[:6]}"
    s = f"log-{uuid.uuid4().hex[:8]}"
    assert prod.reply_text(s, rest_text)

    number = "62812" + str(uuid.uuid4().int)[:8]
    contact = "0812 7" + str(uuid.uuid4().int)[:3] + " " + str(uuid.uuid4().int)[:4]
    conversation = [
        "beta di penampungan di batam, sonde boleh keluar, hp diambil",
        "iya kak, tolong sampaikan ke petugas",
        "saya sendiri",
        "Batam",
        f"WA {contact} malam saja",
    ]
    sid = sender_id(number)
    for turn, text in enumerate(conversation, start=1):
        assert post_whatsapp(prod, whatsapp_body(number, text)) == 200
        wait_turns(prod, sid, turn)
    sent = wait_sent(prod, number, len(conversation))
    assert any(re.search(r"SG-[A-Z0-9]+", str(m.json)) for m in sent)

    logs = prod.logs()
    logs["run_prod.out"] = (prod.run_dir / "run_prod.out").read_text(errors="replace")
    assert "rasa0.log" in logs and "service.log" in logs and "nginx-access.log" in logs
    # The logs are not empty: requests and INFO lines are there, just not these.
    assert "/webhooks/whatsapp/webhook" in logs["nginx-access.log"]
    assert " INFO " in logs["rasa0.log"] + logs["rasa1.log"]
    secrets = [number, number[2:], "+" + number, contact, contact.replace(" ", ""),
               rest_text, "zebrakuning", *conversation[:1], "penampungan di batam",
               "malam saja"]
    for name, text in logs.items():
        for secret in secrets:
            assert secret not in text, f"{secret!r} found in {name}"
