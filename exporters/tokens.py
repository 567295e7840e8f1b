"""Tokenizer encodings built offline, and a threaded token counter.

tiktoken's `get_encoding("o200k_base")` downloads the BPE ranks from openaipublic.blob.core.windows.net on
first use. We never let it: the ranks come from the gzip copies shipped in the `bpe-openai` wheel
(`bpe_openai/data/<name>.tiktoken.gz`). The file is decompressed in memory (15 ms; no cache file to go
stale) and its SHA-256 must equal the hash tiktoken itself expects for that encoding. The pattern and the
special tokens are tiktoken's own: we call the constructor of `tiktoken_ext.openai_public` with its
`load_tiktoken_bpe` replaced, for the duration of the call, by a local loader that receives the URL and
the expected hash. So the downloading loader is never called, and a new tiktoken release brings its own
pattern and hashes.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import importlib.util
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Self

import tiktoken
from tiktoken_ext import openai_public

from .errors import EncodingDataError

_PATCH_LOCK = threading.Lock()


def _local_bpe_path(name: str) -> Path:
    """Where bpe-openai keeps `<name>.tiktoken.gz`, found without importing bpe_openai (its import builds
    tokenizers of its own and takes a third of a second)."""
    spec = importlib.util.find_spec("bpe_openai")
    if spec is None or not spec.submodule_search_locations:
        raise EncodingDataError("the bpe-openai package is not installed: it ships the BPE files we read")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / f"{name}.tiktoken.gz"


def _local_bpe_bytes(name: str) -> bytes:
    """The uncompressed `<name>.tiktoken` ranks file from bpe-openai's data folder."""
    path = _local_bpe_path(name)
    try:
        return gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as error:
        raise EncodingDataError(f"cannot read the local BPE file of {name!r} ({path}): {error}") from error


def _parse_ranks(contents: bytes, source: str) -> dict[bytes, int]:
    ranks: dict[bytes, int] = {}
    for line in contents.splitlines():
        if not line:
            continue
        try:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
        except ValueError as error:
            raise EncodingDataError(f"{source}: bad line {line[:60]!r}") from error
    return ranks


@functools.cache
def get_encoding(name: str = "o200k_base") -> tiktoken.Encoding:
    """tiktoken's encoding `name` (o200k_base, cl100k_base), built from local files, never downloaded."""
    constructor = openai_public.ENCODING_CONSTRUCTORS.get(name)
    if constructor is None:
        raise EncodingDataError(f"unknown encoding {name!r}: expected one of "
                                f"{', '.join(sorted(openai_public.ENCODING_CONSTRUCTORS))}")

    def local_loader(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        contents = _local_bpe_bytes(name)
        actual = hashlib.sha256(contents).hexdigest()
        if expected_hash is None or actual != expected_hash:
            raise EncodingDataError(f"local BPE file for {name!r} has SHA-256 {actual}, but tiktoken expects "
                                    f"{expected_hash} for {url}")
        return _parse_ranks(contents, f"bpe_openai/data/{name}.tiktoken.gz")

    with _PATCH_LOCK:
        original = openai_public.load_tiktoken_bpe
        openai_public.load_tiktoken_bpe = local_loader
        try:
            spec = constructor()
        finally:
            openai_public.load_tiktoken_bpe = original
    return tiktoken.Encoding(spec["name"], pat_str=spec["pat_str"], mergeable_ranks=spec["mergeable_ranks"],
                             special_tokens=spec["special_tokens"], explicit_n_vocab=spec.get("explicit_n_vocab"))


# Pre-tokenization patterns for which `diff_window` is proven (SHA-256 of the encoding's pat_str): those of
# o200k_base and cl100k_base in tiktoken 0.8-0.14. Another pattern simply gets every text counted in full.
WINDOW_SAFE_PATTERNS = frozenset({
    "2d1b8dc11e89af71459b36004f698ab3693f59fd84f63e8ec2b49564ab857420",  # o200k_base
    "f021c3d976978e62ee64cdad150cc3405c2e3d6e3b40407850bb9e8d9eb65899",  # cl100k_base
})


def window_safe(encoding: tiktoken.Encoding) -> bool:
    return hashlib.sha256(encoding._pat_str.encode("utf-8")).hexdigest() in WINDOW_SAFE_PATTERNS


def _common_prefix(a: str, b: str, limit: int) -> int:
    """Length of the common prefix of a and b, at most `limit` (binary search on C-level comparisons)."""
    if a[:limit] == b[:limit]:
        return limit
    low, high = 0, limit - 1  # a[:low] == b[:low]; a[:high + 1] != b[:high + 1]
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _common_suffix(a: str, b: str, limit: int) -> int:
    """Length of the common suffix of a and b, at most `limit`."""
    la, lb = len(a), len(b)
    if a[la - limit:] == b[lb - limit:]:
        return limit
    low, high = 0, limit - 1
    while low < high:
        middle = (low + high + 1) // 2
        if a[la - middle:] == b[lb - middle:]:
            low = middle
        else:
            high = middle - 1
    return low


def diff_window(a: str, b: str) -> tuple[int, int, int]:
    r"""(start, end_a, end_b) with count(b) = count(a) - count(a[start:end_a]) + count(b[start:end_b]), exactly.

    For a mutated SQL (b) next to its original (a), the window is the few characters around the edits, so
    the second text costs almost nothing to count. Why it is exact, for the o200k_base and cl100k_base
    patterns: tiktoken splits a text into regex pieces that tile it left to right and encodes each piece on
    its own, so a count is the sum over pieces. Call position i a hard boundary when text[i] is a plain
    space and text[i-1] is not whitespace. No piece can hold both characters: the letter, digit and
    punctuation alternatives take a space only as their first character (and their trailing `[\r\n/]*`
    takes no space), and the whitespace alternatives take no non-space. So a piece always starts at i, the
    pieces before i are decided by text[:i+1] alone (a match never looks past the space that ends it: the
    lookahead `(?!\S)` reads one character, and cl100k's `$` cannot match before a non-space), and the
    pieces from i on are decided by text[i:] alone. `start` is the last hard boundary inside the common
    prefix of a and b (or 0), `end_a`/`end_b` the first one whose previous character lies in their common
    suffix (or the ends): outside the window both texts have the same pieces, and a window counted on its
    own ends before a hard boundary, so it has the same pieces as in place. tests/exporters check the
    identity against full counts on many random and mutated texts.
    """
    if a == b:
        return 0, 0, 0
    shorter = min(len(a), len(b))
    prefix = _common_prefix(a, b, shorter)
    suffix = _common_suffix(a, b, shorter - prefix)
    start = 0
    space = a.rfind(" ", 0, prefix)
    while space > 0:
        if not a[space - 1].isspace():
            start = space
            break
        space = a.rfind(" ", 0, space)
    end_a = len(a)
    space = a.find(" ", len(a) - suffix + 1)
    while space != -1:
        if not a[space - 1].isspace():
            end_a = space
            break
        space = a.find(" ", space + 1)
    return start, end_a, end_a - len(a) + len(b)


def default_threads() -> int:
    return max(1, min(os.cpu_count() or 1, 16))


class TokenCounter:
    """Counts tokens of many strings with `encode_ordinary` on a few threads (tiktoken releases the GIL).

    Special-token strings such as "<|endoftext|>" are counted as ordinary text (the cookbook's `encode`
    raises on them instead); the data check flags them separately. tiktoken's own `encode_ordinary_batch`
    submits one task per string, whose overhead eats the gain of the second core on short texts; here each
    thread gets one contiguous slice.
    """

    MIN_PARALLEL_CHARS = 200_000

    def __init__(self, encoding: tiktoken.Encoding, threads: int | None = None) -> None:
        self.encoding = encoding
        self.threads = default_threads() if threads is None else max(1, threads)
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="tokens") if self.threads > 1 else None
        self._cache: dict[str, int] = {}

    def count(self, text: str) -> int:
        return len(self.encoding.encode_ordinary(text))

    def count_cached(self, text: str) -> int:
        """Count a string that recurs (roles, system prompts, names): memoised, at most 4,096 entries."""
        cached = self._cache.get(text)
        if cached is None:
            if len(self._cache) >= 4096:
                self._cache.clear()
            cached = self._cache[text] = self.count(text)
        return cached

    def _count_slice(self, texts: Sequence[str]) -> list[int]:
        encode = self.encoding.encode_ordinary
        return [len(encode(text)) for text in texts]

    def count_many(self, texts: Sequence[str]) -> list[int]:
        return self.submit(texts)()

    def submit(self, texts: Sequence[str]) -> Callable[[], list[int]]:
        """Start counting `texts` on the pool; the returned function waits for and returns the counts.

        This lets the caller prepare its next batch (JSON, format checks) while the threads count this one.
        """
        if self._pool is None or len(texts) < 2 * self.threads or sum(map(len, texts)) < self.MIN_PARALLEL_CHARS:
            counts = self._count_slice(texts)
            return lambda: counts
        step = -(-len(texts) // self.threads)
        futures = [self._pool.submit(self._count_slice, texts[start:start + step])
                   for start in range(0, len(texts), step)]

        def wait() -> list[int]:
            counts: list[int] = []
            for future in futures:
                counts.extend(future.result())
            return counts

        return wait

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
