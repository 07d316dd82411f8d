"""Outgoing HTTP with retries, shared by the WhatsApp (Graph API) and Twilio outputs.

Both APIs rate-limit (429) and occasionally fail (5xx); a reply that is silently
lost is worse for a worried user than a reply that arrives two seconds late.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from typing import Any

import aiohttp

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504}) | frozenset(range(505, 600))


@dataclass
class RetryPolicy:
    """How hard to try. Defaults: 4 attempts, 0.5 s -> 1 s -> 2 s (+ jitter)."""

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    timeout: float = 20.0

    def backoff(self, attempt: int) -> float:
        delay = self.base_delay * (2 ** (attempt - 1))
        return min(self.max_delay, delay + random.uniform(0, self.base_delay / 4))


@dataclass
class HttpResult:
    """Outcome of the last attempt (status 0 means the request never got an answer)."""

    status: int
    body: Any
    attempts: int

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def _retry_after(headers: Any, policy: RetryPolicy) -> float | None:
    value = headers.get("Retry-After") if headers else None
    if not value:
        return None
    try:
        return max(0.0, min(policy.max_delay, float(value)))
    except ValueError:  # HTTP-date form: rare for these APIs, fall back to backoff.
        return None


class LoopSession:
    """An aiohttp session created lazily and bound to the running event loop (a new loop,
    as in tests or after a restart of the server, gets a new session)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def get(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout)
            )
            self._loop = loop
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


class HttpSender:
    """A loop-bound aiohttp session plus retrying POST."""

    def __init__(self, policy: RetryPolicy | None = None) -> None:
        self.policy = policy or RetryPolicy()
        self._http = LoopSession(self.policy.timeout)

    async def _get_session(self) -> aiohttp.ClientSession:
        return await self._http.get()

    async def close(self) -> None:
        await self._http.close()

    async def post(
        self,
        url: str,
        *,
        log_name: str,
        json: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        auth: aiohttp.BasicAuth | None = None,
    ) -> HttpResult:
        """POST with retries on 429/5xx/network errors; never raises for HTTP failures.

        ``log_name`` is what appears in logs instead of the URL, which may contain ids.
        """
        policy = self.policy
        status, body = 0, None
        for attempt in range(1, policy.max_attempts + 1):
            delay: float | None = None
            try:
                session = await self._get_session()
                async with session.post(
                    url, json=json, data=data, headers=headers, auth=auth
                ) as resp:
                    status = resp.status
                    try:
                        body = await resp.json(content_type=None)
                    except (ValueError, aiohttp.ContentTypeError):
                        body = await resp.text()
                    if status < 400:
                        return HttpResult(status, body, attempt)
                    if status not in RETRY_STATUSES:
                        logger.error(
                            "%s: request rejected with HTTP %s (not retried): %s",
                            log_name,
                            status,
                            _error_summary(body),
                        )
                        return HttpResult(status, body, attempt)
                    delay = _retry_after(resp.headers, policy) if status == 429 else None
                    logger.warning(
                        "%s: HTTP %s on attempt %d/%d", log_name, status, attempt,
                        policy.max_attempts,
                    )
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                status, body = 0, None
                logger.warning(
                    "%s: network error on attempt %d/%d: %s", log_name, attempt,
                    policy.max_attempts, type(exc).__name__,
                )
            if attempt < policy.max_attempts:
                await asyncio.sleep(delay if delay is not None else policy.backoff(attempt))
        logger.error("%s: giving up after %d attempts (last HTTP %s)", log_name,
                     policy.max_attempts, status)
        return HttpResult(status, body, policy.max_attempts)


def _error_summary(body: Any) -> str:
    """Error code/type only: API error messages can echo user content back."""
    if isinstance(body, dict):
        err = body.get("error") if isinstance(body.get("error"), dict) else body
        parts = [f"{k}={err.get(k)}" for k in ("code", "type", "error_subcode", "status")
                 if isinstance(err, dict) and err.get(k) is not None]
        return ", ".join(parts) or "no error code"
    return "no error code"
