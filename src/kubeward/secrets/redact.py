"""Redaction: the only form in which a found secret may reach a report, a log or a message.

A redacted secret keeps a short prefix (enough to tell an AWS key id from a GitHub token) and
never the tail, since the tail is what makes a secret usable and what people paste to verify.
"""

from __future__ import annotations

from collections.abc import Iterable

MASK = "****"
_SHORT = 8  # secrets this short keep at most one character
_LONG_PREFIX = 4


def _text(secret: bytes | str) -> str:
    return secret.decode("utf-8", "replace") if isinstance(secret, bytes) else secret


def redact(secret: bytes | str) -> str:
    """The secret's first characters followed by "****": at most 4, at most 1 when the secret
    is 8 characters or fewer, and never half of it or more.

    The prefix stops at the first non-printable character, so a redacted value can neither
    drive a terminal nor split a report line.
    """
    text = _text(secret)
    keep = min(_LONG_PREFIX if len(text) > _SHORT else 1, len(text) // 2)
    prefix = []
    for char in text[:keep]:
        if not char.isprintable():
            break
        prefix.append(char)
    return "".join(prefix) + MASK


def redact_text(text: str, secrets: Iterable[bytes | str]) -> str:
    """`text` with every occurrence of each secret replaced by its redacted form.

    For messages and log lines built from data that may hold a secret (an exception from a
    parser, a line quoted in a warning). Longer secrets go first so that a secret containing
    another is replaced whole; the escaped form a bytes repr would print is replaced too.
    """
    forms: dict[str, str] = {}
    for secret in secrets:
        plain = _text(secret)
        if not plain:
            continue
        masked = redact(secret)
        forms.setdefault(plain, masked)
        raw = secret if isinstance(secret, bytes) else secret.encode("utf-8", "replace")
        escaped = repr(raw)[2:-1]
        if escaped and escaped != plain:
            forms.setdefault(escaped, masked)
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, forms[form])
    return text
