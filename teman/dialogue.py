"""Yes / no / skip in plain words, read from normalised tokens (knowledge/dialogue.yml).

The decision service has no conversation history: it says what a short message *is*
("iya kak, tolong sampaikan ke petugas" is a yes), and Rasa's rules decide what a yes
means at that point of the conversation (consent to a hand-off, or just "okay").
"""

from __future__ import annotations

from teman.knowledge.loader import ConsentWords

AFFIRM, DENY, SKIP = "affirm", "deny", "skip"


def consent_act(tokens: tuple[str, ...], words: ConsentWords) -> str | None:
    """AFFIRM, DENY, SKIP or None for anything else (a question, a story, small talk)."""
    if not tokens:
        return None
    text = " ".join(tokens)
    for phrase in words.skip_phrases:
        if text == phrase:
            return SKIP
    rest = list(tokens)
    while rest and rest[0] in words.fillers and len(rest) > 1:
        rest.pop(0)
    if not rest:
        return None
    for act, starts, extra in (
        (DENY, words.deny_starts, words.deny_extra),
        (AFFIRM, words.affirm_starts, words.affirm_extra),
    ):
        if rest[0] not in starts:
            continue
        known = extra | starts | words.fillers
        unknown = sum(1 for t in rest[1:] if t not in known)
        # A short answer may carry one word we do not list ("iya betul sekali").
        if unknown == 0 or (unknown == 1 and len(rest) <= words.max_tokens):
            return act
    return None
