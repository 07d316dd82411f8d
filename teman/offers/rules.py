"""The offer-check data (knowledge/offers/flags.yml, salaries.yml) as compiled rules.

Loading fails with `OfferRulesError` naming the file and the item to fix; the validator
(`teman.offers.validate`) collects every such problem for staff.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

FLAGS_FILE = "flags.yml"
SALARIES_FILE = "salaries.yml"
SPECIALS = ("salary", "min_age")
#: the signal the salary check gives when it finds a promised figure
SALARY_AMOUNT = "salary_amount"
#: the signal given by a country named in salaries.yml
COUNTRY = "country"
SPACES = re.compile(r"[^\S\n]+")
BLANK_LINES = re.compile(r"\s*\n\s*")


class OfferRulesError(ValueError):
    """A mistake in knowledge/offers/ that staff need to fix; the message says where."""


def clean(text: str) -> str:
    """What the rules match against: NFKC, lower case, squeezed spaces (lines kept)."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    text = text.replace("’", "'").replace("`", "'")
    return BLANK_LINES.sub("\n", SPACES.sub(" ", text)).strip()


def phrase_regex(phrase: str, synonyms: dict[str, list[str]] | None = None) -> str:
    """A plain phrase as a whole-word regex; a space matches any run of spaces or dashes;
    a word with `synonyms` (flags.yml) matches any of its spellings."""
    words = clean(phrase).replace("-", " ").split()
    if not words:
        return "(?!)"
    synonyms = synonyms or {}
    parts = []
    for word in words:
        variants = [word, *synonyms.get(word, ())]
        parts.append("(?:" + "|".join(re.escape(v) for v in variants) + ")"
                     if len(variants) > 1 else re.escape(word))
    body = r"[\s\-]+".join(parts)
    return rf"(?<![\w$¥]){body}(?![\w])"


@dataclass(frozen=True)
class Concept:
    name: str
    regex: re.Pattern[str] | None
    not_after: re.Pattern[str] | None = None
    not_window: int = 0
    not_in_sentence: re.Pattern[str] | None = None

    def find(self, text: str) -> list[re.Match[str]]:
        if self.regex is None:
            return []
        found = []
        for m in self.regex.finditer(text):
            if self.not_after is not None:
                before = text[max(0, m.start() - self.not_window) : m.start()]
                if self.not_after.search(before):
                    continue
            if self.not_in_sentence is not None and self.not_in_sentence.search(
                _sentence(text, m.start(), m.end())
            ):
                continue
            found.append(m)
        return found


SENTENCE_ENDS = ("\n", ". ", "! ", "? ")


def _sentence(text: str, start: int, end: int) -> str:
    """The line or sentence around a match."""
    left = max(text.rfind(d, 0, start) for d in SENTENCE_ENDS)
    rights = [i for i in (text.find(d, end) for d in SENTENCE_ENDS) if i >= 0]
    return text[left + 1 : min(rights) if rights else len(text)]


@dataclass(frozen=True)
class Alternative:
    all: tuple[str, ...]
    none: tuple[str, ...] = ()


@dataclass(frozen=True)
class Flag:
    id: str
    severity: int
    title: str
    why: str
    legal: str
    sources: tuple[tuple[str, str], ...]
    when: tuple[Alternative, ...]
    special: str = ""

    def source_label(self) -> str:
        return "; ".join(f"{n} ({d})" if d else n for n, d in self.sources)


@dataclass(frozen=True)
class PayRow:
    country: str
    jobs: tuple[str, ...]
    minimum: float | None
    currency: str
    period: str
    label: str
    source: tuple[str, str] | None
    no_source: str = ""


@dataclass(frozen=True)
class Currency:
    code: str
    rupiah: float
    aliases: tuple[str, ...]
    country: str = ""


@dataclass(frozen=True)
class Named:
    id: str
    label: str
    regex: re.Pattern[str]
    zero_cost: bool = False


@dataclass
class OfferRules:
    min_signals: int
    max_chars: int
    signals: tuple[str, ...]
    needs_any: tuple[str, ...]
    not_offer: tuple[str, ...]
    concepts: dict[str, Concept]
    flags: list[Flag]
    texts: dict[str, str]
    company_regex: re.Pattern[str] | None
    company_text: str
    company_sources: tuple[tuple[str, str], ...]
    far_above_factor: float
    hours_per_month: float
    currencies: dict[str, Currency]
    jobs: list[Named]
    countries: list[Named]
    pay: dict[str, list[PayRow]] = field(default_factory=dict)

    @classmethod
    def load(cls, knowledge_dir: Path) -> OfferRules:
        folder = knowledge_dir / "offers"
        flags_raw = _yaml(folder / FLAGS_FILE)
        pay_raw = _yaml(folder / SALARIES_FILE)
        return _build(flags_raw, pay_raw)

    def flag(self, flag_id: str) -> Flag | None:
        return next((f for f in self.flags if f.id == flag_id), None)


def _yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise OfferRulesError(f"{path}: file is missing")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise OfferRulesError(f"{path.name}: not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise OfferRulesError(f"{path.name}: expected a mapping at the top")
    return data


def _compile(parts: list[str], where: str) -> re.Pattern[str] | None:
    if not parts:
        return None
    try:
        return re.compile("|".join(f"(?:{p})" for p in parts))
    except re.error as error:
        raise OfferRulesError(f"{where}: a pattern is not a valid regular expression: {error}") \
            from error


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise OfferRulesError(f"{where}: expected a list")
    return [str(v) for v in value if str(v).strip()]


def _concept(name: str, raw: dict[str, Any], where: str,
             synonyms: dict[str, list[str]] | None = None) -> Concept:
    words = _strings(raw.get("words"), f"{where} words")
    patterns = _strings(raw.get("patterns"), f"{where} patterns")
    for p in patterns:
        try:
            re.compile(p)
        except re.error as error:
            raise OfferRulesError(f"{where}: pattern {p!r} is invalid: {error}") from error
    regex = _compile([phrase_regex(w, synonyms) for w in words] + patterns, where)
    blockers = _strings(raw.get("not_after"), f"{where} not_after")
    return Concept(
        name=name,
        regex=regex,
        not_after=_compile([phrase_regex(w, synonyms) for w in blockers],
                           f"{where} not_after"),
        not_in_sentence=_compile(
            [phrase_regex(w, synonyms)
             for w in _strings(raw.get("not_in_sentence"), f"{where} not_in_sentence")],
            f"{where} not_in_sentence"),
        not_window=int(raw.get("not_window", 15)),
    )


def _sources(raw: Any, where: str) -> tuple[tuple[str, str], ...]:
    if not raw or not isinstance(raw, list):
        raise OfferRulesError(f"{where}: 'sources' is missing")
    out = []
    for item in raw:
        if not isinstance(item, dict) or not str(item.get("name") or "").strip():
            raise OfferRulesError(f"{where}: every source needs a 'name'")
        out.append((str(item["name"]).strip(), str(item.get("date") or "").strip()))
    return tuple(out)


def _synonyms(raw: Any) -> dict[str, list[str]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise OfferRulesError("flags.yml synonyms: expected word: [spellings]")
    out: dict[str, list[str]] = {}
    for word, spellings in raw.items():
        out[clean(str(word))] = [clean(s) for s in _strings(spellings, f"synonyms '{word}'")]
    return out


def _build(flags_raw: dict[str, Any], pay_raw: dict[str, Any]) -> OfferRules:
    synonyms = _synonyms(flags_raw.get("synonyms"))
    concepts: dict[str, Concept] = {}
    for name, raw in (flags_raw.get("concepts") or {}).items():
        if not isinstance(raw, dict):
            raise OfferRulesError(f"flags.yml concept '{name}': expected words/patterns")
        concepts[str(name)] = _concept(str(name), raw, f"flags.yml concept '{name}'",
                                       synonyms)
    flags: list[Flag] = []
    seen: set[str] = set()
    for i, raw in enumerate(flags_raw.get("flags") or []):
        where = f"flags.yml flag {i + 1}"
        if not isinstance(raw, dict) or not raw.get("id"):
            raise OfferRulesError(f"{where}: 'id' is missing")
        flag_id = str(raw["id"])
        where = f"flags.yml flag '{flag_id}'"
        if flag_id in seen:
            raise OfferRulesError(f"{where}: id used twice")
        seen.add(flag_id)
        for key in ("title", "why", "legal"):
            if not str(raw.get(key) or "").strip():
                raise OfferRulesError(f"{where}: '{key}' is missing")
        special = str(raw.get("special") or "")
        if special and special not in SPECIALS:
            raise OfferRulesError(f"{where}: special must be one of {', '.join(SPECIALS)}")
        own = _concept(flag_id, raw, where, synonyms)
        when: list[Alternative] = []
        if own.regex is not None:
            concepts[flag_id] = own
            when.append(Alternative((flag_id,), tuple(_strings(raw.get("none"), where))))
        for alt in raw.get("when") or []:
            when.append(Alternative(tuple(_strings(alt.get("all"), where)),
                                    tuple(_strings(alt.get("none"), where))))
        for alt in when:
            for name in (*alt.all, *alt.none):
                if name not in concepts:
                    raise OfferRulesError(f"{where}: unknown concept '{name}'")
        if not when and not special:
            raise OfferRulesError(f"{where}: needs words, patterns, 'when' or 'special'")
        flags.append(Flag(
            id=flag_id,
            severity=int(raw.get("severity", 1)),
            title=str(raw["title"]).strip(),
            why=" ".join(str(raw["why"]).split()),
            legal=" ".join(str(raw["legal"]).split()),
            sources=_sources(raw.get("sources"), where),
            when=tuple(when),
            special=special,
        ))
    signals = tuple(_strings(flags_raw.get("signals"), "flags.yml signals"))
    for name in signals:
        if name not in concepts:
            raise OfferRulesError(f"flags.yml signals: unknown concept '{name}'")
    needs_any = tuple(_strings(flags_raw.get("needs_any"), "flags.yml needs_any"))
    for name in (n for combo in needs_any for n in combo.split("+")):
        if name not in concepts and name not in (SALARY_AMOUNT, COUNTRY):
            raise OfferRulesError(f"flags.yml needs_any: unknown concept '{name}'")
    not_offer = tuple(_strings(flags_raw.get("not_offer"), "flags.yml not_offer"))
    for name in not_offer:
        if name not in concepts:
            raise OfferRulesError(f"flags.yml not_offer: unknown concept '{name}'")
    company = flags_raw.get("company_check") or {}
    pattern = str(flags_raw.get("company_pattern") or "")
    currencies = {
        str(code): Currency(str(code), float(raw["rupiah_per_unit"]),
                            tuple(clean(str(a)) for a in raw.get("aliases") or ()),
                            str(raw.get("country") or ""))
        for code, raw in (pay_raw.get("currencies") or {}).items()
    }
    jobs = [
        Named(str(job), str(raw.get("label") or job),
              _named_regex(raw, f"salaries.yml job '{job}'"), bool(raw.get("zero_cost")))
        for job, raw in (pay_raw.get("jobs") or {}).items()
    ]
    countries: list[Named] = []
    pay: dict[str, list[PayRow]] = {}
    for country, raw in (pay_raw.get("countries") or {}).items():
        where = f"salaries.yml country '{country}'"
        countries.append(Named(str(country), str(raw.get("label") or country),
                               _named_regex(raw, where)))
        rows = []
        for row in raw.get("rows") or []:
            rows.append(_pay_row(str(country), row, where, currencies))
        pay[str(country)] = rows
    return OfferRules(
        min_signals=int(flags_raw.get("min_signals", 3)),
        max_chars=int(flags_raw.get("max_chars", 6000)),
        signals=signals,
        needs_any=needs_any,
        not_offer=not_offer,
        concepts=concepts,
        flags=flags,
        texts={str(k): " ".join(str(v).split()) for k, v in
               (flags_raw.get("texts") or {}).items()},
        company_regex=_compile([pattern], "flags.yml company_pattern") if pattern else None,
        company_text=" ".join(str(company.get("text") or "").split()),
        company_sources=_sources(company.get("sources"), "flags.yml company_check")
        if company else (),
        far_above_factor=float(pay_raw.get("far_above_factor", 2.0)),
        hours_per_month=float(pay_raw.get("hours_per_month", 173)),
        currencies=currencies,
        jobs=jobs,
        countries=countries,
        pay=pay,
    )


def _named_regex(raw: Any, where: str) -> re.Pattern[str]:
    words = _strings((raw or {}).get("words"), f"{where} words")
    if not words:
        raise OfferRulesError(f"{where}: 'words' is missing")
    regex = _compile([phrase_regex(w) for w in words], where)
    assert regex is not None
    return regex


def _pay_row(country: str, row: Any, where: str, currencies: dict[str, Currency]) -> PayRow:
    if not isinstance(row, dict) or not row.get("jobs"):
        raise OfferRulesError(f"{where}: every row needs 'jobs'")
    jobs = tuple(str(j) for j in row["jobs"])
    if row.get("no_source"):
        return PayRow(country, jobs, None, "", "", "", None, str(row["no_source"]))
    for key in ("minimum", "currency", "period", "source"):
        if not row.get(key):
            raise OfferRulesError(f"{where}: a row with a figure needs '{key}' "
                                  f"(or write 'no_source: why' instead of a figure)")
    if str(row["currency"]) not in currencies:
        raise OfferRulesError(f"{where}: unknown currency '{row['currency']}'")
    if str(row["period"]) not in ("month", "hour"):
        raise OfferRulesError(f"{where}: period must be 'month' or 'hour'")
    source = row["source"]
    if not isinstance(source, dict) or not source.get("name"):
        raise OfferRulesError(f"{where}: the source needs a 'name' (and a 'date')")
    return PayRow(
        country=country,
        jobs=jobs,
        minimum=float(row["minimum"]),
        currency=str(row["currency"]),
        period=str(row["period"]),
        label=str(row.get("label") or ""),
        source=(str(source["name"]), str(source.get("date") or "")),
    )
