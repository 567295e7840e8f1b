"""Offline tokenizer encodings: exact counts, tiktoken's own specials, and no network, ever."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import tiktoken
import tiktoken.load

from exporters import tokens
from exporters.check import check_examples
from exporters.errors import EncodingDataError
from exporters.tokens import TokenCounter, diff_window, get_encoding, window_safe

REPO = Path(__file__).resolve().parents[2]


def test_o200k_counts_known_strings():
    encoding = get_encoding("o200k_base")
    assert encoding.name == "o200k_base"
    assert encoding.encode_ordinary("hello world") == [24912, 2375]
    assert [len(encoding.encode_ordinary(text)) for text in ("system", "user", "assistant", "SELECT 1",
                                                             "SELECT DISTINCT 1", "You are x.")] == [1, 1, 1, 3, 4, 4]
    assert encoding.special_tokens_set == {"<|endoftext|>", "<|endofprompt|>"}
    assert encoding.n_vocab == 200019


def test_cl100k_counts_known_strings():
    encoding = get_encoding("cl100k_base")
    assert encoding.encode_ordinary("hello world") == [15339, 1917]
    assert "<|fim_prefix|>" in encoding.special_tokens_set


def test_unknown_encoding():
    with pytest.raises(EncodingDataError, match="unknown encoding 'p50k_nope'"):
        get_encoding("p50k_nope")


def test_no_network_is_attempted(monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        raise AssertionError(f"network or download attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(tiktoken.load, "read_file", refuse)
    monkeypatch.setattr(tiktoken.load, "read_file_cached", refuse)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tiktoken-cache"))
    get_encoding.cache_clear()
    try:
        assert len(get_encoding("o200k_base").encode_ordinary("hello world")) == 2
        assert len(get_encoding("cl100k_base").encode_ordinary("hello world")) == 2
    finally:
        get_encoding.cache_clear()
    assert not (tmp_path / "tiktoken-cache").exists()


def test_cli_runs_with_network_unreachable(tmp_path):
    data = tmp_path / "one.jsonl"
    data.write_text(json.dumps({"messages": [{"role": "user", "content": "hello world"},
                                             {"role": "assistant", "content": "hi"}]}) + "\n")
    script = (
        "import socket, sys\n"
        "def refuse(*a, **k): raise OSError('network disabled by the test')\n"
        "socket.socket.connect = refuse\nsocket.create_connection = refuse\nsocket.getaddrinfo = refuse\n"
        "from exporters.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    )
    cache = tmp_path / "tiktoken-cache"
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(cache), "HTTPS_PROXY": "http://10.255.255.1:9",
           "HTTP_PROXY": "http://10.255.255.1:9", "NO_PROXY": ""}
    done = subprocess.run([sys.executable, "-c", script, "-q", "check", str(data), "--json"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    # 2 messages x 3 + roles 1 + 1 + reply priming 3 + "hello world" 2 + "hi" 1
    assert json.loads(done.stdout)["distributions"]["total_tokens"]["max"] == 14
    assert not cache.exists()


def test_hash_mismatch_is_refused(monkeypatch):
    monkeypatch.setattr(tokens, "_local_bpe_bytes", lambda name: b"aGVsbG8= 0\n")
    get_encoding.cache_clear()
    try:
        with pytest.raises(EncodingDataError, match="SHA-256"):
            get_encoding("o200k_base")
    finally:
        get_encoding.cache_clear()


def test_threaded_counts_equal_sequential():
    texts = [f"SELECT `c{i}` FROM `t{i % 7}` WHERE (`c{i}`)>({i}) " * 20 for i in range(2000)]
    encoding = get_encoding()
    expected = [len(encoding.encode_ordinary(text)) for text in texts]
    with TokenCounter(encoding, threads=3) as counter:
        assert counter.count_many(texts) == expected
    with TokenCounter(encoding, threads=1) as counter:
        assert counter.count_many(texts) == expected
        assert counter.count_cached("hello world") == 2


# --- diff_window: counting a mutated text from its original ------------------------------------------------

ATOMS = ["a", "Z", "SELECT", "select", "Ab", "aB", " ", "  ", "   ", "\t", "\n", "\r\n", " \n", "\n ", "'", "'s", "'t",
         "'re", "'LL", "'d", "0", "12", "1234567", "(", ")", "`", "`f1`", ">", ">=", "=", "!=", ",", ".", ";", "/",
         "//", "\\", '"', "_UTF8MB4'x'", "é", "ß", "e\u0301", "\u0301", "中文", "😀", "\xa0", "\u2003", "\x85", "\x1c",
         "\u200b", "ǅ", "ʰ", "<|endoftext|>", "٣", "Ⅻ"]


def random_pairs(seed: int, count: int):
    rng = random.Random(seed)
    for _ in range(count):
        a = "".join(rng.choice(ATOMS) for _ in range(rng.randint(0, 50)))
        b = a
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(b) + 1)
            j = min(len(b), i + rng.randint(0, 6))
            b = b[:i] + "".join(rng.choice(ATOMS) for _ in range(rng.randint(0, 3))) + b[j:]
        yield (a, b) if rng.random() < 0.5 else (b, a)


def window_mismatches(encoding, window, pairs) -> int:
    def count(text):
        return len(encoding.encode_ordinary(text))
    bad = 0
    for a, b in pairs:
        start, end_a, end_b = window(a, b)
        bad += count(b) != count(a) - count(a[start:end_a]) + count(b[start:end_b])
    return bad


def test_diff_window_simple_case():
    a, b = "SELECT a FROM t WHERE x>1", "SELECT a FROM t WHERE x>=1"
    assert diff_window(a, b) == (21, 25, 26)  # the windows " x>1" and " x>=1"
    assert diff_window(a, a) == (0, 0, 0)
    assert diff_window("", "x") == (0, 0, 1)
    assert diff_window("a  b", "a  c") == (1, 4, 4)  # the space at 2 follows a space: no boundary, start at 1


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_diff_window_is_exact_on_adversarial_texts(name):
    encoding = get_encoding(name)
    assert window_safe(encoding)
    assert window_mismatches(encoding, diff_window, random_pairs(20261124, 4000)) == 0


def test_the_fuzz_catches_a_wrong_boundary_rule():
    """Control: calling every space a boundary (even after whitespace) is wrong, and the fuzz sees it."""
    def every_space(a, b):
        if a == b:
            return 0, 0, 0
        shorter = min(len(a), len(b))
        prefix = tokens._common_prefix(a, b, shorter)
        suffix = tokens._common_suffix(a, b, shorter - prefix)
        start = max(0, a.rfind(" ", 0, prefix))
        space = a.find(" ", len(a) - suffix + 1)
        end_a = len(a) if space == -1 else space
        return start, end_a, end_a - len(a) + len(b)

    assert window_mismatches(get_encoding("cl100k_base"), every_space, random_pairs(20261124, 4000)) > 0


def test_mutated_sql_counts_match_full_counts():
    encoding = get_encoding()
    original = ("SELECT (`f1`) AS `f1`,(LENGTH(_UTF8MB4'2012')) AS `f2` FROM (SELECT `col_double_key_signed` AS `f7` "
                "FROM `table_3_utf8_undef`) AS `t2` WHERE ((`f7`)>(1) AND (`f7`) LIKE _UTF8MB4'a%b') "
                "UNION ALL SELECT 1, 2 FROM `t` HAVING (`f1`) IN (1,2,3)")
    mutants = [original.replace(")>(", ")>=("), original.replace("SELECT (", "SELECT DISTINCT (", 1),
               original.replace("UNION ALL", "UNION"), original.replace("IN (1,2,3)", "IN (1,2,3,NULL)"),
               original.split(" UNION ALL ")[0], original.replace("'a%b'", "'a_b'"), original + " ", " " + original]
    examples = [{"messages": [{"role": "user", "content": original}, {"role": "assistant", "content": m}]}
                for m in mutants]
    result = check_examples(examples)
    expected = [len(encoding.encode_ordinary(m)) for m in mutants]
    assert result.distributions["assistant_tokens"]["max"] == max(expected)
    assert result.distributions["assistant_tokens"]["min"] == min(expected)
    assert window_mismatches(encoding, diff_window, [(original, m) for m in mutants]) == 0


def test_unknown_pattern_counts_in_full():
    plain = get_encoding()
    other = tiktoken.Encoding("o200k_copy", pat_str=plain._pat_str + "|x", mergeable_ranks=plain._mergeable_ranks,
                              special_tokens=plain._special_tokens)
    assert not window_safe(other)
