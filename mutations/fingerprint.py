"""Normalised fingerprints of SQL text, for deduplication across tasks and runs.

Two queries share a fingerprint when they differ only in whitespace, comments, keyword case, charset
introducers or literal values: every string and number literal becomes `?`. Identifiers, operators and
structure still count, so a different column or comparison gives a different fingerprint.
"""

from __future__ import annotations

import hashlib

from .tokens import tokenize


def normalised_text(sql: str) -> str:
    """The token stream with literals masked, separated by single spaces (trailing `;` dropped)."""
    return normalise_keys(tokenize(sql).keys)


def normalise_keys(keys: list[str]) -> str:
    """`normalised_text` for an already tokenized text (saves a second tokenization)."""
    out: list[str] = []
    for index, key in enumerate(keys):
        head = key[:1]
        if head == "_" and index + 1 < len(keys) and keys[index + 1][:1] == "'":
            continue  # charset introducer
        if head == "'" or head.isdigit() or (head == "." and key[1:2].isdigit()):
            out.append("?")
        else:
            out.append(key)
    while out and out[-1] == ";":
        out.pop()
    return " ".join(out)


def fingerprint(sql: str) -> str:
    """SHA-256 (hex) of `normalised_text(sql)`."""
    return hashlib.sha256(normalised_text(sql).encode("utf-8")).hexdigest()


def pair_fingerprint(strategy: str, original: str, mutated: str) -> str:
    """One fingerprint for a (strategy, original, mutated) pair, literal values ignored."""
    text = "\x1f".join((strategy, normalised_text(original), normalised_text(mutated)))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def pair_hash(strategy: str, original: str, mutated: str) -> str:
    """SHA-256 (hex) of the exact texts; equals DuckDB's sha256(strategy || chr(31) || original || chr(31) || mutated)."""
    return hashlib.sha256("\x1f".join((strategy, original, mutated)).encode("utf-8")).hexdigest()
