"""One redaction helper for everything the gateway prints: log lines, error messages,
the start banner. It removes

- the password of any URL's userinfo (``scheme://user:secret@host`` -> ``user:***@``),
- credential query parameters (``p=``, ``password=``, ``token=``, InfluxDB 1.x's ``u``/``p``
  style), and
- every secret the settings loaded (``register_secret``), wherever it appears.

Secrets shorter than ``MIN_SECRET_CHARS`` are not searched for in free text (a one-letter
password would blank every such letter of every line); they are still never printed by
the gateway itself. ``install_log_redaction`` puts the filter on the root logger's
handlers, so library messages (aiohttp, paho) are covered too.
"""

from __future__ import annotations

import logging
import re
import threading

__all__ = ["MIN_SECRET_CHARS", "install_log_redaction", "redact", "register_secret"]

MIN_SECRET_CHARS = 4
MASK = "***"
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^\s/@:]*):"
                       r"(?P<pw>[^\s/@]*)@")
_QUERY = re.compile(r"(?P<key>[?&;](?:p|password|passwd|token|access_token|secret)=)"
                    r"(?P<val>[^&#\s'\"]*)", re.I)
_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Never print ``value`` again (in ``redact`` and in log lines)."""
    if value and len(value) >= MIN_SECRET_CHARS:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _QUERY.sub(lambda m: f"{m['key']}{MASK}", text)
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)  # a secret inside another
    for s in secrets:
        if s in text:
            text = text.replace(s, MASK)
    return text


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: let the handler report it as usual
            return True
        clean = redact(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        return True


_FILTER = _RedactingFilter()


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Redact every record that reaches ``logger``'s handlers (the root's by default)."""
    for h in (logger or logging.getLogger()).handlers:
        if _FILTER not in h.filters:
            h.addFilter(_FILTER)
