"""Reads one message as a job offer and lists the red flags found in it.

Everything it knows is data (knowledge/offers/): concepts (words, patterns), flags made of
concepts, the pay table and exchange rates. Code adds only two number checks: the promised
salary against the pay table (`special: salary`) and an age limit under 18
(`special: min_age`). Each flag carries the words that triggered it, as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from teman.offers.rules import COUNTRY, SALARY_AMOUNT, Named, OfferRules, PayRow, clean

NUMBER = r"\d{1,3}(?:[.,]\d{3})+|\d+(?:[.,]\d+)?"
MULTIPLIERS = {"juta": 1e6, "jt": 1e6, "jta": 1e6, "jtan": 1e6, "million": 1e6, "m": 1e6,
               "ribu": 1e3, "rb": 1e3, "k": 1e3, "rebu": 1e3, "miliar": 1e9}
PERIODS = {"jam": "hour", "hour": "hour", "hari": "day", "hr": "day", "day": "day",
           "minggu": "week", "week": "week", "tahun": "year", "thn": "year", "year": "year",
           "bulan": "month", "bln": "month", "month": "month"}
PERIOD_FACTOR = {"hour": None, "day": 26.0, "week": 4.3, "month": 1.0, "year": 1 / 12}
SALARY_WINDOW = 70
# A phone number is no salary: a leading 0, or ten and more digits with no separators.
PHONE = re.compile(r"0\d{6,}|\d{10,}")
AGE = re.compile(
    r"(?:usia|umur|age)\s*(?:minimal|min\.?|mulai|dari)?\s*:?\s*(\d{1,2})\s*"
    r"(?:(?:-|–|s/d|sd|sampai|hingga|to)\s*(\d{1,2}))?\s*(?:tahun|thn|th|tahun)?"
    r"|(?:minimal|min\.?)\s*(?:usia|umur)?\s*(\d{1,2})\s*(?:tahun|thn|th)"
    r"|(\d{1,2})\s*(?:tahun|thn|th)\s*(?:ke\s*atas|keatas|\+)"
    r"|(\d{1,2})\s*(?:-|–|s/d|sampai|hingga)\s*(\d{1,2})\s*(?:tahun|thn|th)\b"
)
ADULT_AGE = 18
PERSON_CONCEPT = "person_in_it"
FIRST_PERSON = "first_person"
ADVERT_VOICE = "advert_voice"
COMPANY_STOP = {"membuka", "menerima", "buka", "butuh", "mencari", "untuk", "dengan", "yang",
                "resmi", "merekrut", "rekrut", "dibutuhkan", "segera", "di", "ke", "gaji",
                "lowongan", "info", "hub", "hubungi", "wa", "berizin", "bagian", "sebagai"}


@dataclass(frozen=True)
class FlagHit:
    flag_id: str
    evidence: str
    detail: str = ""


@dataclass
class OfferCheck:
    is_offer: bool
    signals: tuple[str, ...] = ()
    hits: list[FlagHit] = field(default_factory=list)
    country: str | None = None
    job: str | None = None
    salary_rupiah: float | None = None
    company: str | None = None
    #: a particular person is in it (concept `person_in_it`), not just an advert
    person: bool = False

    @property
    def flag_ids(self) -> list[str]:
        return [h.flag_id for h in self.hits]


@dataclass(frozen=True)
class Salary:
    rupiah: float
    evidence: str
    currency: str = "IDR"


def _format_rupiah(value: float) -> str:
    if value >= 1e6:
        text = f"{value / 1e6:.1f}".rstrip("0").rstrip(".").replace(".", ",")
        return f"Rp{text} juta"
    return f"Rp{value:,.0f}".replace(",", ".")


def _format_local(value: float, currency: str) -> str:
    symbol = {"MYR": "RM", "HKD": "HK$", "TWD": "NT$", "SGD": "S$", "KRW": "", "JPY": "",
              "USD": "US$", "IDR": "Rp"}.get(currency, currency + " ")
    number = f"{value:,.0f}".replace(",", ".")
    suffix = {"KRW": " won", "JPY": " yen"}.get(currency, "")
    return f"{symbol}{number}{suffix}"


def _number(text: str) -> float | None:
    text = text.strip()
    if re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", text):
        return float(re.sub(r"[.,]", "", text))
    try:
        return float(text.replace(",", "."))
    except ValueError:
        return None


class OfferDetector:
    """`normalize` (optional): the project's normaliser as text -> text; the concepts are
    then also matched on the normalised words, so slang and Kupang Malay ("sonde usah")
    read like standard Indonesian."""

    def __init__(self, rules: OfferRules, normalize: Callable[[str], str] | None = None) -> None:
        self.rules = rules
        self.normalize = normalize
        aliases = sorted(
            ((a, c.code) for c in rules.currencies.values() for a in c.aliases),
            key=lambda x: -len(x[0]),
        )
        self._currency_of = dict(aliases)
        alias_re = "|".join(re.escape(a) for a, _ in aliases) or "(?!)"
        mult_re = "|".join(sorted(MULTIPLIERS, key=len, reverse=True))
        period_re = "|".join(sorted(PERIODS, key=len, reverse=True))
        self.amount = re.compile(
            rf"(?P<pre>{alias_re})?\s?\.?\s?(?P<n1>{NUMBER})\s?(?P<m1>{mult_re})?(?![\w])"
            rf"(?:\s?(?:-|–|s/d|sd|sampai|hingga|to|~)\s?(?:{alias_re})?\s?\.?\s?"
            rf"(?P<n2>{NUMBER})\s?(?P<m2>{mult_re})?(?![\w]))?"
            rf"\s?(?P<post>{alias_re})?(?![\w])"
            rf"(?:\s?(?:/|per|se)\s?(?P<period>{period_re}))?"
        )

    @classmethod
    def from_knowledge(
        cls, knowledge_dir: Path, normalize: Callable[[str], str] | None = None
    ) -> OfferDetector:
        return cls(OfferRules.load(knowledge_dir), normalize)

    # ---------------------------------------------------------------- helpers
    def _first(self, named: list[Named], text: str) -> Named | None:
        best: tuple[int, Named] | None = None
        for item in named:
            m = item.regex.search(text)
            if m and (best is None or m.start() < best[0]):
                best = (m.start(), item)
        return best[1] if best else None

    def _currency(self, m: re.Match[str]) -> str | None:
        return self._currency_of.get((m.group("pre") or m.group("post") or "").strip())

    def _to_rupiah(self, m: re.Match[str]) -> float | None:
        if any(PHONE.fullmatch(n) for n in (m.group("n1"), m.group("n2") or "")):
            return None
        value = _number(m.group("n2") or m.group("n1"))
        if value is None:
            return None
        mult = m.group("m2") or m.group("m1")
        code = self._currency_of.get((m.group("pre") or m.group("post") or "").strip())
        if mult:
            value *= MULTIPLIERS[mult]
        if code is None:
            if mult in ("juta", "jt", "jta", "jtan", "miliar") or value >= 100_000:
                code = "IDR"
            else:
                return None  # a bare small number: an age, a count, not a salary
        rupiah = value * self.rules.currencies[code].rupiah
        period = PERIODS.get(m.group("period") or "", "month")
        factor = PERIOD_FACTOR[period]
        rupiah *= self.rules.hours_per_month if factor is None else factor
        return rupiah

    def salary(self, text: str) -> Salary | None:
        """The highest monthly pay promised, in rupiah, near a salary word."""
        anchor = self.rules.concepts.get("salary_word")
        if anchor is None:
            return None
        best: Salary | None = None
        for a in anchor.find(text):
            window = text[a.end() : a.end() + SALARY_WINDOW].split("\n")[0]
            for m in self.amount.finditer(window):
                if not m.group("n1"):
                    continue
                rupiah = self._to_rupiah(m)
                if rupiah is not None and (best is None or rupiah > best.rupiah):
                    best = Salary(rupiah, text[a.start() : a.end() + m.end()].strip(),
                                  self._currency(m) or "IDR")
                    break
        return best

    def _monthly_rupiah(self, row: PayRow) -> float:
        assert row.minimum is not None
        monthly = row.minimum * (self.rules.hours_per_month if row.period == "hour" else 1)
        return monthly * self.rules.currencies[row.currency].rupiah

    def _row(self, country: str, job: str) -> PayRow | None:
        rows = self.rules.pay.get(country) or []
        return next((r for r in rows if job in r.jobs), None) or next(
            (r for r in rows if "general" in r.jobs), None)

    def _salary_hit(self, salary: Salary, country: Named | None, job: str) -> FlagHit | None:
        factor = self.rules.far_above_factor
        row = self._row(country.id, job) if country is not None else None
        if country is not None and row is not None and row.minimum is not None:
            monthly = self._monthly_rupiah(row)
            if salary.rupiah <= factor * monthly:
                return None
            per = "per jam" if row.period == "hour" else "per bulan"
            source = f"{row.source[0]}, {row.source[1]}" if row.source else ""
            detail = (f"{row.label[:1].upper()}{row.label[1:]}: "
                      f"{_format_local(row.minimum, row.currency)} {per} "
                      f"(sekitar {_format_rupiah(monthly)} sebulan; {source}). "
                      f"Tawaran ini sekitar {_format_rupiah(salary.rupiah)}.")
            return FlagHit("salary_too_high", salary.evidence, detail)
        figures = [self._monthly_rupiah(r) for rows in self.rules.pay.values() for r in rows
                   if r.minimum is not None and (job in r.jobs or "general" in r.jobs)]
        if not figures or salary.rupiah <= factor * max(figures):
            return None
        where = f"Untuk {country.label} tidak ada angka gaji resmi di catatan kami. " \
            if country is not None else ""
        times = f"{factor:g}".replace(".", ",")
        detail = (f"{where}Tawaran ini sekitar {_format_rupiah(salary.rupiah)} sebulan: lebih "
                  f"dari {times} kali gaji minimum tertinggi di negara tujuan yang kami catat.")
        return FlagHit("salary_too_high", salary.evidence, detail)

    def _age_hit(self, text: str) -> FlagHit | None:
        for m in AGE.finditer(text):
            ages = [int(g) for g in m.groups() if g]
            if ages and 10 <= min(ages) < ADULT_AGE:
                return FlagHit("underage_or_no_diploma", m.group(0).strip())
        return None

    def _company(self, original: str) -> str | None:
        regex = self.rules.company_regex
        if regex is None:
            return None
        m = re.compile(regex.pattern, re.IGNORECASE).search(original)
        if not m:
            return None
        words = []
        for word in m.group(1).split():
            if word.lower().strip(".") in COMPANY_STOP:
                break
            words.append(word.strip(".,"))
        name = " ".join(w for w in words[:4] if w)
        return f"PT {name}" if name and len(name) >= 3 else None

    @staticmethod
    def _as_written(original: str, evidence: str) -> str:
        """The evidence in the user's own letters (matching ran on a cleaned copy)."""
        pattern = r"\s+".join(re.escape(w) for w in evidence.split())
        m = re.search(pattern, original, re.IGNORECASE) if pattern else None
        return " ".join((m.group(0) if m else evidence).split())

    # ---------------------------------------------------------------- the check
    def check(self, message: str) -> OfferCheck:
        original = (message or "")[: self.rules.max_chars]
        text = clean(original)
        if not text:
            return OfferCheck(False)
        found = {name: c.find(text) for name, c in self.rules.concepts.items()}
        if self.normalize is not None:
            normalised = self.normalize(text)
            for name, concept in self.rules.concepts.items():
                if not found[name]:
                    found[name] = concept.find(normalised)
        country = self._first(self.rules.countries, text)
        job_named = self._first(self.rules.jobs, text)
        job = job_named.id if job_named else "general"
        signals = [s for s in self.rules.signals if found.get(s)]
        if country is not None and "destination_word" not in signals:
            signals.append("destination_word")
        salary = self.salary(text)
        if salary is not None:
            by_currency = self.rules.currencies[salary.currency].country
            country = next((c for c in self.rules.countries if c.id == by_currency), country)
        if salary is not None and "salary_word" not in signals:
            signals.append("salary_word")
        present = {name for name, matches in found.items() if matches}
        if salary is not None:
            present.add(SALARY_AMOUNT)
        if country is not None:
            present.add(COUNTRY)
        concrete = any(set(combo.split("+")) <= present for combo in self.rules.needs_any)
        is_offer = len(signals) >= self.rules.min_signals and (
            concrete or not self.rules.needs_any)
        if any(found.get(c) for c in self.rules.not_offer) and not (
            found.get("contact") or salary is not None
        ):
            is_offer = False  # a general question about offers
        hits: list[FlagHit] = []
        for flag in self.rules.flags:
            hit: FlagHit | None = None
            for alt in flag.when:
                if all(found.get(c) for c in alt.all) and not any(found.get(c) for c in alt.none):
                    hit = FlagHit(flag.id, found[alt.all[0]][0].group(0))
                    break
            if flag.special == "salary" and salary is not None:
                hit = self._salary_hit(salary, country, job) or hit
            elif flag.special == "min_age":
                hit = hit or self._age_hit(text)
            if hit is not None:
                hits.append(FlagHit(hit.flag_id, self._as_written(original, hit.evidence),
                                    hit.detail))
        order = {f.id: (-f.severity, i) for i, f in enumerate(self.rules.flags)}
        hits.sort(key=lambda h: order[h.flag_id])
        return OfferCheck(
            is_offer=is_offer,
            signals=tuple(signals),
            hits=hits,
            country=country.id if country else None,
            job=job_named.id if job_named else None,
            salary_rupiah=salary.rupiah if salary else None,
            company=self._company(original),
            person=bool(found.get(PERSON_CONCEPT)) or (
                bool(found.get(FIRST_PERSON)) and not found.get(ADVERT_VOICE)),
        )
