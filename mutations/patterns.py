"""The four random pattern mutators (RdM*, reference §4) and the test of whether a pattern is reachable.

PINOLO rewrites the pattern byte by byte and draws `Intn(2)` only for qualifying bytes. We do the same on
the UTF-8 bytes with Python's RNG (Go's exact sequence would need a port of its `rngCooked` table).
"""

from __future__ import annotations

import random

from .errors import UnknownStrategyError


def _draw(rng: random.Random) -> bool:
    return rng.getrandbits(1) == 1


def mutate_pattern(strategy: str, pattern: str, rng: random.Random) -> str:
    """One random rewrite of a LIKE/REGEXP pattern under `strategy`; it may return the pattern unchanged."""
    data = pattern.encode("utf-8")
    if strategy == "RdMLikeU":
        out = bytes(b"%"[0] if byte != 0x25 and _draw(rng) else byte for byte in data)
    elif strategy == "RdMLikeL":
        out = bytes(b"_"[0] if byte == 0x25 and _draw(rng) else byte for byte in data)
    elif strategy == "RdMRegExpU":
        if data.startswith(b"^") and _draw(rng):
            data = data[1:]
        if data.endswith(b"$") and _draw(rng):
            data = data[:-1]
        out = bytes(b"*"[0] if byte in b"+?" and _draw(rng) else byte for byte in data)
    elif strategy == "RdMRegExpL":
        chars = bytearray()
        for byte in data:
            if byte == 0x2A and _draw(rng):
                byte = b"+"[0] if _draw(rng) else b"?"[0]
            chars.append(byte)
        out = bytes(chars)
    else:
        raise UnknownStrategyError(strategy)
    # Replacing single bytes of a multibyte character breaks it; Go's JSON writes U+FFFD there too.
    return out.decode("utf-8", errors="replace")


def _same_length_rewrite(original: bytes, mutated: bytes, allowed: dict[int, bytes]) -> bool:
    if len(original) != len(mutated):
        return False
    for before, after in zip(original, mutated):
        if before != after and after not in allowed.get(before, b""):
            return False
    return True


_NOT_PERCENT = {byte: b"%" for byte in range(256) if byte != 0x25}


def can_produce(strategy: str, original: str, mutated: str) -> bool:
    """True if `strategy` can turn pattern `original` into `mutated` for some sequence of draws."""
    before = original.encode("utf-8")
    after = mutated.encode("utf-8")
    if strategy == "RdMLikeU":
        return _same_length_rewrite(before, after, _NOT_PERCENT)
    if strategy == "RdMLikeL":
        return _same_length_rewrite(before, after, {0x25: b"_"})
    if strategy == "RdMRegExpU":
        heads = [before, before[1:]] if before.startswith(b"^") else [before]
        for head in heads:
            bodies = [head, head[:-1]] if head.endswith(b"$") else [head]
            for body in bodies:
                if _same_length_rewrite(body, after, {0x2B: b"*", 0x3F: b"*"}):
                    return True
        return False
    if strategy == "RdMRegExpL":
        return _same_length_rewrite(before, after, {0x2A: b"+?"})
    raise UnknownStrategyError(strategy)
