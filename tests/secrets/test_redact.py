"""Redaction keeps a short prefix and never the tail, whatever the secret looks like."""

from __future__ import annotations

import pytest

from kubeward.secrets.redact import redact, redact_text


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        (b"AKIAIOSFODNN7EXAMPLE", "AKIA****"),
        ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_****"),
        ("abcdefghi", "abcd****"),  # 9 characters: the long form
        ("hunter22", "h****"),  # 8 characters: at most one
        ("abc", "a****"),
        ("ab", "a****"),
        ("a", "****"),  # one character kept would be the whole secret
        ("", "****"),
        ("pässwörd-geheim", "päss****"),  # characters, not bytes
        (b"p\xc3\xa4sswort-geheim", "päss****"),
        (b"\xff\xfe\xfdabcdefgh", "\ufffd\ufffd\ufffda****"),  # decoded with replacement
        ("ab\x1b[31mcdefghijk", "ab****"),  # the prefix stops at a control character
        ("\u202eabcdefghijk", "****"),  # and at a bidi override
        ("日本語のひみつのことば", "日本語の****"),
    ],
)
def test_redact(secret: bytes | str, expected: str) -> None:
    assert redact(secret) == expected


def test_redact_never_keeps_the_tail() -> None:
    for length in range(1, 64):
        secret = "".join(chr(ord("a") + i % 26) for i in range(length - 1)) + "Z"
        masked = redact(secret)
        assert "Z" not in masked
        assert masked.endswith("****")
        assert len(masked) - 4 <= (4 if length > 8 else 1)


def test_redact_text_scrubs_every_occurrence() -> None:
    text = "login failed for key=AKIAIOSFODNN7EXAMPLE (retry with AKIAIOSFODNN7EXAMPLE)"
    assert redact_text(text, [b"AKIAIOSFODNN7EXAMPLE"]) == (
        "login failed for key=AKIA**** (retry with AKIA****)"
    )


def test_redact_text_longer_secret_first() -> None:
    # "hunter2" is inside "hunter2hunter2": the longer one must be replaced whole first.
    text = "a=hunter2hunter2 b=hunter2"
    assert redact_text(text, ["hunter2", "hunter2hunter2"]) == "a=hunt**** b=h****"


def test_redact_text_catches_bytes_repr() -> None:
    secret = b"s3cr\xe9t-value\n"
    text = f"parse error near {secret!r}"
    out = redact_text(text, [secret])
    assert out == "parse error near b's3cr****'"
    assert "t-value" not in out


def test_redact_text_ignores_empty_secrets() -> None:
    assert redact_text("nothing to hide", [b"", ""]) == "nothing to hide"
