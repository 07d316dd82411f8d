"""Checks knowledge/offers/ for staff mistakes; the `kb validate` command and
`kb validate` (teman.knowledge.validate.EXTRA_VALIDATORS) call `validate`.

Returns a list of problems (empty when all is well), each naming the file and item.
"""

from __future__ import annotations

from pathlib import Path

from teman.offers.rules import FLAGS_FILE, OfferRules, OfferRulesError

#: The flag ids the evaluation set and the reply rely on: renaming one breaks both.
REQUIRED_FLAGS = (
    "salary_too_high", "placement_fee", "no_training", "wrong_visa", "rushed_departure",
    "informal_recruiter", "chat_only_contact", "irregular_route", "underage_or_no_diploma",
    "online_scam", "data_or_money_link",
)
REQUIRED_TEXTS = ("intro_one", "intro_many", "more", "legal_intro", "closing", "none_found",
                  "none_found_sources", "quote")
MAX_WHY_CHARS = 320
MAX_LEGAL_CHARS = 160


def validate(knowledge_dir: Path) -> list[str]:
    try:
        rules = OfferRules.load(knowledge_dir)
    except (OfferRulesError, KeyError, TypeError, ValueError) as error:
        return [f"offers: {error}"]
    problems: list[str] = []
    ids = {f.id for f in rules.flags}
    for missing in (i for i in REQUIRED_FLAGS if i not in ids):
        problems.append(f"offers/{FLAGS_FILE}: tanda bahaya '{missing}' tidak ada "
                        "(id-nya tetap, jangan dihapus)")
    for flag in rules.flags:
        if len(flag.why) > MAX_WHY_CHARS:
            problems.append(f"offers/{FLAGS_FILE} tanda '{flag.id}': 'why' {len(flag.why)} "
                            f"karakter (paling banyak {MAX_WHY_CHARS})")
        if len(flag.legal) > MAX_LEGAL_CHARS:
            problems.append(f"offers/{FLAGS_FILE} tanda '{flag.id}': 'legal' "
                            f"{len(flag.legal)} karakter (paling banyak {MAX_LEGAL_CHARS})")
        if any(not date for _, date in flag.sources):
            problems.append(f"offers/{FLAGS_FILE} tanda '{flag.id}': setiap sumber perlu tanggal")
    for key in REQUIRED_TEXTS:
        if not rules.texts.get(key):
            problems.append(f"offers/{FLAGS_FILE}: teks texts.{key} belum ada")
    if "{company}" not in rules.company_text:
        problems.append(f"offers/{FLAGS_FILE}: company_check.text harus memuat {{company}}")
    known_jobs = {j.id for j in rules.jobs} | {"general"}
    for country, rows in rules.pay.items():
        if not rows:
            problems.append(f"offers/salaries.yml negara '{country}': belum ada baris gaji")
        for row in rows:
            for job in row.jobs:
                if job not in known_jobs:
                    problems.append(f"offers/salaries.yml negara '{country}': pekerjaan "
                                    f"'{job}' tidak dikenal")
            if row.source is not None and not row.source[1]:
                problems.append(f"offers/salaries.yml negara '{country}': sumber "
                                f"'{row.source[0]}' perlu tanggal")
    return problems

