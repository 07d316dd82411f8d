"""Hostile input through nginx to the REST channel and the WhatsApp webhook (signed and
unsigned), generated with hypothesis: no crash, no 5xx, a friendly reply where one is due.
FUZZ_EXAMPLES sets the number of examples per test (`make fuzz`: 10,000 in all)."""

from __future__ import annotations

import json
import os
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.prod.conftest import Prod, post_whatsapp, whatsapp_body, whatsapp_signature

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))

CONTROL = st.characters(min_codepoint=0, max_codepoint=31)
RTL = st.sampled_from(["مرحبا كيف حالك", "שלום", "ܫܠܡܐ", "\u202e kerja \u202c", "کار"])
HOSTILE_WORDS = st.sampled_from([
    "<script>alert(1)</script>", "'; DROP TABLE events; --", "\" OR 1=1 --",
    "{{7*7}}", "${jndi:ldap://x}", "../../etc/passwd", "/restart", "/affirm",
    '/choose_entry{"entry_id":"x"}', "%00", "\ufeff", "🙂🙏🏽👩‍👩‍👧‍👦", "ﷺ", "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǫ̗",
    "kerja di malaysia gaji 20 jt", "paspor ditahan", "halo", "   ", "",
])
TEXT = st.one_of(
    st.just(""),
    st.text(alphabet=st.sampled_from(" \t\n\r\u00a0\u2003"), max_size=50),
    st.text(max_size=300),
    st.text(alphabet=CONTROL, max_size=50),
    RTL,
    HOSTILE_WORDS,
    st.lists(st.one_of(HOSTILE_WORDS, RTL, st.text(max_size=20)), max_size=8).map(" ".join),
    st.integers(min_value=1000, max_value=10_000).map(lambda n: ("kerja " * n)[:n]),
    st.text(min_size=1, max_size=3).map(lambda s: (s * 10_000)[:10_000]),
)
RAW = st.one_of(
    st.binary(max_size=500),
    st.just(b'{"sender": "x", "message": "\xff\xfe halo"}'),  # invalid UTF-8 in JSON
    st.just(b'{"sender": "x", "message": '),
    st.just(b"[]"), st.just(b"null"), st.just(b'"halo"'),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "ignore")),
    st.dictionaries(st.text(max_size=10), st.one_of(st.none(), st.integers(), st.text()),
                    max_size=5).map(lambda d: json.dumps(d).encode()),
)


def rest(prod: Prod, body: bytes) -> tuple[int, bytes]:
    return prod.request("/webhooks/rest/webhook", body, {"Content-Type": "application/json"})


@FUZZ
@given(text=TEXT)
def test_rest_hostile_text_gets_a_reply(prod: Prod, text: str) -> None:
    body = json.dumps({"sender": f"fz-{uuid.uuid4().hex[:10]}", "message": text}).encode()
    status, answer = rest(prod, body)
    assert status == 200, (status, answer[:200])
    replies = json.loads(answer)
    assert replies and all(m.get("text") or m.get("buttons") for m in replies), replies


@FUZZ
@given(raw=RAW)
def test_rest_malformed_bodies_get_a_clear_4xx_or_a_reply(prod: Prod, raw: bytes) -> None:
    status, answer = rest(prod, raw)
    assert status < 500, (status, raw[:100])
    if status >= 400:
        assert json.loads(answer)["error"]


@FUZZ
@given(text=TEXT, signed=st.booleans())
def test_whatsapp_hostile_text_is_acknowledged_or_refused(prod: Prod, text: str,
                                                         signed: bool) -> None:
    number = "62899" + str(uuid.uuid4().int)[:8]
    status = post_whatsapp(prod, whatsapp_body(number, text), signed=signed)
    assert status == (200 if signed else 403)


@FUZZ
@given(raw=RAW, signed=st.booleans())
def test_whatsapp_malformed_bodies_never_5xx(prod: Prod, raw: bytes, signed: bool) -> None:
    headers = {"Content-Type": "application/json"}
    if signed:
        headers["X-Hub-Signature-256"] = whatsapp_signature(raw)
    status, _ = prod.request("/webhooks/whatsapp/webhook", raw, headers)
    assert status == (200 if signed else 403)
