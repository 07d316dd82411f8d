"""Where consented cases are delivered: the hotline webhook, staff WhatsApp numbers, e-mail.

Settings come from ``teman/cases/delivery.yml`` (or the file in ``DELIVERY_CONFIG``),
overridden by environment variables; secrets only from the environment. The action server
reads :meth:`DeliveryConfig.targets` to queue one outbox row per target; the forwarder reads
the rest to deliver them. See docs/cases.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .config import ConfigError
from .models import WEBHOOK_TARGET

DEFAULT_FILE = Path(__file__).with_name("delivery.yml")
WHATSAPP_PREFIX = "whatsapp:"
EMAIL_PREFIX = "email:"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def target_kind(target: str) -> str:
    """``webhook``, ``whatsapp`` or ``email`` (the part before the colon)."""
    return target.split(":", 1)[0]


def target_address(target: str) -> str:
    """The staff number or address of a target ('' for the webhook)."""
    return target.split(":", 1)[1] if ":" in target else ""


def _env(env: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return value
    return None


def _list(env: Mapping[str, str], name: str, default: Any) -> tuple[str, ...]:
    raw = _env(env, name)
    items = raw.split(",") if raw is not None else (default or [])
    return tuple(str(item).strip() for item in items if str(item).strip())


def _bool(env: Mapping[str, str], name: str, default: Any) -> bool:
    raw = _env(env, name)
    if raw is None:
        return bool(default)
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _number(env: Mapping[str, str], name: str, default: Any, kind: type = float) -> Any:
    raw = _env(env, name)
    try:
        value = kind(raw if raw is not None else default)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {value}")
    return value


@dataclass(frozen=True)
class WhatsAppDelivery:
    """Template messages to the hotline team's numbers over the WhatsApp Cloud API."""

    to: tuple[str, ...]
    template: str
    language: str
    api_url: str
    phone_number_id: str | None
    access_token: str | None
    timeout: float

    @property
    def ready(self) -> bool:
        """Everything needed to send is present."""
        return bool(self.to and self.template and self.phone_number_id and self.access_token)


@dataclass(frozen=True)
class SmtpSettings:
    """One SMTP server for case e-mails and alerts (STARTTLS and AUTH by default)."""

    host: str | None
    port: int
    starttls: bool
    ssl: bool
    username: str | None
    password: str | None
    ca_file: str | None
    timeout: float
    sender: str

    @property
    def ready(self) -> bool:
        return bool(self.host)


@dataclass(frozen=True)
class DeliveryConfig:
    """All delivery targets and alert settings."""

    webhook_url: str | None
    whatsapp: WhatsAppDelivery
    email_to: tuple[str, ...]
    smtp: SmtpSettings
    alert_to: tuple[str, ...]
    stale_after: float
    check_interval: float

    @classmethod
    def load(
        cls, env: Mapping[str, str] | None = None, path: Path | None = None
    ) -> DeliveryConfig:
        """File (DELIVERY_CONFIG or the packaged delivery.yml), then the environment."""
        env = os.environ if env is None else env
        file = path or Path(_env(env, "DELIVERY_CONFIG") or DEFAULT_FILE)
        try:
            raw: dict[str, Any] = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read the delivery settings {file}: {exc}") from exc
        wa: dict[str, Any] = raw.get("whatsapp") or {}
        mail: dict[str, Any] = raw.get("email") or {}
        smtp: dict[str, Any] = raw.get("smtp") or {}
        alerts: dict[str, Any] = raw.get("alerts") or {}
        return cls(
            webhook_url=_env(env, "HOTLINE_FORWARD_URL"),
            whatsapp=WhatsAppDelivery(
                to=tuple(n.lstrip("+") for n in _list(env, "DELIVERY_WHATSAPP_TO", wa.get("to"))),
                template=_env(env, "DELIVERY_WHATSAPP_TEMPLATE") or str(wa.get("template") or ""),
                language=_env(env, "DELIVERY_WHATSAPP_LANGUAGE") or str(wa.get("language") or "id"),
                api_url=(_env(env, "WHATSAPP_API_URL") or str(wa.get("api_url") or "")).rstrip("/"),
                phone_number_id=_env(
                    env, "DELIVERY_WHATSAPP_PHONE_NUMBER_ID", "WHATSAPP_PHONE_NUMBER_ID"
                ),
                access_token=_env(env, "DELIVERY_WHATSAPP_ACCESS_TOKEN", "WHATSAPP_ACCESS_TOKEN"),
                timeout=_number(env, "DELIVERY_WHATSAPP_TIMEOUT", wa.get("timeout_seconds", 10)),
            ),
            email_to=_list(env, "DELIVERY_EMAIL_TO", mail.get("to")),
            smtp=SmtpSettings(
                host=_env(env, "SMTP_HOST") or (str(smtp.get("host") or "") or None),
                port=_number(env, "SMTP_PORT", smtp.get("port", 587), int),
                starttls=_bool(env, "SMTP_STARTTLS", smtp.get("starttls", True)),
                ssl=_bool(env, "SMTP_SSL", smtp.get("ssl", False)),
                username=_env(env, "SMTP_USERNAME"),
                password=_env(env, "SMTP_PASSWORD"),
                ca_file=_env(env, "SMTP_CA_FILE"),
                timeout=_number(env, "SMTP_TIMEOUT", smtp.get("timeout_seconds", 20)),
                sender=_env(env, "DELIVERY_EMAIL_FROM") or str(mail.get("from") or ""),
            ),
            alert_to=_list(env, "ALERT_EMAIL_TO", alerts.get("email_to")),
            stale_after=_number(
                env, "FORWARDER_STALE_AFTER", alerts.get("forwarder_stale_after_seconds", 300)
            ),
            check_interval=_number(
                env, "FORWARDER_CHECK_INTERVAL", alerts.get("check_interval_seconds", 60)
            ),
        )

    def targets(self) -> tuple[str, ...]:
        """One outbox row per target for each new case.

        The webhook is queued when configured, and also when nothing else is (the case then
        waits for HOTLINE_FORWARD_URL, as before): a case is never stored with no delivery.
        """
        out: list[str] = []
        if self.webhook_url:
            out.append(WEBHOOK_TARGET)
        out += [WHATSAPP_PREFIX + number for number in self.whatsapp.to]
        out += [EMAIL_PREFIX + address for address in self.email_to]
        return tuple(out) or (WEBHOOK_TARGET,)

    def configured(self, kind: str) -> bool:
        """Whether the forwarder can deliver targets of this kind now."""
        if kind == WEBHOOK_TARGET:
            return bool(self.webhook_url)
        if kind == "whatsapp":
            return bool(self.whatsapp.phone_number_id and self.whatsapp.access_token
                        and self.whatsapp.template)
        if kind == "email":
            return self.smtp.ready and bool(self.smtp.sender)
        return False

    @property
    def any_configured(self) -> bool:
        return any(self.configured(k) for k in (WEBHOOK_TARGET, "whatsapp", "email"))
