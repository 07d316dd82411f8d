"""Logs without phone numbers or message texts, in every process (Rasa's included).

`RedactFilter` is attached to the handlers of `deploy/logging.yml`, which Rasa reads with
`--logging-config-file` and our processes with `configure()` (when TEMAN_LOGGING_CONFIG
names it). It blanks the fields in which Rasa's structured logs carry user text (the same
keys Rasa Pro anonymises), anything shaped like a phone number, and exception messages
(which may quote either); the stack frames are kept.
"""

from __future__ import annotations

import contextlib
import json
import logging
import logging.config
import os
import re
import traceback
from pathlib import Path
from typing import Any

# Keys of Rasa's structlog events that hold user text or data derived from it
# (rasa.utils.log_utils._anonymizer's list, plus a few more).
TEXT_KEYS = frozenset({
    "text", "response_text", "user_text", "slot_values", "parse_data_text",
    "parse_data_entities", "prediction_events", "tracker_latest_message", "prefilled_slots",
    "message", "response", "slot_candidates", "rasa_event", "rasa_events",
    "tracker_states", "current_states", "old_states", "successes", "current_entity",
    "next_entity", "states", "entity", "token_text", "user_message", "json_message",
    "events", "tracker", "slots", "parse_data", "metadata", "body", "utterance",
})
REDACTED = "[redacted]"
# International (+…) or Indonesian (08…, 628…) numbers, with common separators.
PHONE = re.compile(r"(?<![\w.])(?:\+\d[\d\s().-]{6,}\d|(?:62|0)8\d[\d\s.-]{5,}\d)(?![\w.])")


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: REDACTED if k in TEXT_KEYS else _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def redact(message: str) -> str:
    """Blank text fields of a JSON log line and phone-shaped numbers anywhere."""
    stripped = message.strip()
    if stripped.startswith("{") and stripped.endswith("}"):
        with contextlib.suppress(ValueError):
            message = json.dumps(_scrub(json.loads(stripped)), ensure_ascii=False)
    return PHONE.sub("[number]", message)


def redact_record(record: logging.LogRecord) -> None:
    """Redact one record in place (message, arguments and exception text)."""
    if getattr(record, "_teman_redacted", False):
        return
    try:
        message = record.getMessage()
    except Exception:  # a broken format string must not break logging
        message = str(record.msg)
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        frames = "".join(traceback.format_tb(exc.__traceback__))
        message += f"\n{type(exc).__name__} (message withheld)\n{frames}"
        record.exc_info = None
        record.exc_text = None
    record.msg = redact(message)
    record.args = ()
    record._teman_redacted = True


_installed = False


def install_record_factory() -> None:
    """Redact every record when it is created, whatever handler formats it later.

    Rasa's CLI replaces the root handler from the logging config file with its own
    (coloredlogs) after reading the file, so a handler filter alone would be dropped.
    """
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redact_record(record)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


class RedactFilter(logging.Filter):
    """Redacts each record; creating it (from a logging config) also installs the
    record factory, so records reaching handlers added later are redacted too."""

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        install_record_factory()

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def configure(level: str = "INFO", fmt: str = "%(asctime)s %(levelname)s %(name)s %(message)s"
              ) -> None:
    """dictConfig from TEMAN_LOGGING_CONFIG (YAML) when set, else basicConfig."""
    path = os.environ.get("TEMAN_LOGGING_CONFIG", "").strip()
    if path:
        import yaml

        logging.config.dictConfig(yaml.safe_load(Path(path).read_text(encoding="utf-8")))
        return
    logging.basicConfig(level=level, format=fmt)
