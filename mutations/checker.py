"""The judge: is `mutated` a correct application of `strategy` to `original`?

Both texts are compared as token streams (whitespace, comments and keyword case do not matter; identifiers,
literals and operators do). A pair conforms when the mutated stream equals the original stream with exactly
one of the strategy's candidate spans replaced by what the strategy writes there. For the four RdM*
strategies the new pattern only has to be one the strategy can draw, and it may lose its `_UTF8MB4`
introducer, as PINOLO's rewritten literals do (reference §4).
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from functools import lru_cache

from .engine import Analysis, Candidate, analyse
from .errors import SqlSyntaxError
from .fingerprint import normalise_keys
from .parser import parse
from .patterns import can_produce
from .strategies import NO_CANDIDATE_REASONS, RULES, STRATEGIES
from .tokens import Tokens, keys_after_edit, tokenize

CONFORMS = "conforms"
REASON_KINDS = (
    CONFORMS,
    "unknown_strategy",
    "original_unreadable",
    "mutated_unreadable",
    "mutated_not_select",
    "no_mutation_point",
    "identical",
    "other_strategy",
    "reversed",
    "wrong_rewrite",
    "outside_mutation_point",
    "several_edits",
)


@dataclass(frozen=True, slots=True)
class Verdict:
    """`is_upper` belongs to the matched candidate (None when nothing matched); `reason` is for people."""

    conforms: bool
    is_upper: bool | None
    reason: str
    candidate: Candidate | None = None
    kind: str = CONFORMS  # a stable category of `reason` (see REASON_KINDS), for grouping failures


    def as_dict(self) -> dict[str, object]:
        return {"conforms": self.conforms, "is_upper": self.is_upper, "reason": self.reason}


@lru_cache(maxsize=1024)
def _replacement_keys(text: str) -> tuple[str, ...]:
    return tuple(tokenize(text).keys)


def _strip_semicolons(keys: list[str]) -> list[str]:
    end = len(keys)
    while end and keys[end - 1] == ";":
        end -= 1
    return keys if end == len(keys) else keys[:end]


def _common_prefix(a: list[str], b: list[str], start: int = 0) -> int:
    """Length of the common prefix; `start` is a length already known to be common."""
    limit = min(len(a), len(b))
    index = start
    while index < limit and a[index] == b[index]:
        index += 1
    return index


def _common_suffix(a: list[str], b: list[str], start: int = 0) -> int:
    """Length of the common suffix; `start` is a length already known to be common."""
    limit = min(len(a), len(b))
    index = start
    while index < limit and a[-1 - index] == b[-1 - index]:
        index += 1
    return index


def _middle_matches(candidate: Candidate, middle: list[str]) -> bool:
    """Does the mutated text at the candidate's span hold what the strategy writes there?"""
    if candidate.replacement is not None:
        return tuple(middle) == _replacement_keys(candidate.replacement)
    if len(middle) == 2 and middle[0][:1] == "_":
        middle = middle[1:]  # the introducer may survive or not
    if len(middle) != 1 or middle[0][:1] != "'":
        return False
    return can_produce(candidate.strategy, candidate.pattern or "", middle[0][1:])


def _fits(candidate: Candidate, okeys: list[str], mkeys: list[str], prefix: int, suffix: int) -> bool:
    """Is `mkeys` the original `okeys` with this candidate's span rewritten as its strategy does?"""
    head, tail = candidate.tok_start, len(okeys) - candidate.tok_end
    return (head <= prefix and tail <= suffix and len(mkeys) - tail >= head
            and _middle_matches(candidate, mkeys[head : len(mkeys) - tail]))


def _match(cands: list[Candidate] | tuple[Candidate, ...], okeys: list[str], mkeys: list[str], prefix: int,
           suffix: int) -> Candidate | None:
    n, m = len(okeys), len(mkeys)
    for candidate in cands:  # `_fits`, inlined: this is check's hot loop
        head, tail = candidate.tok_start, n - candidate.tok_end
        if head <= prefix and tail <= suffix and m - tail >= head:
            if _middle_matches(candidate, mkeys[head : m - tail]):
                return candidate
    return None


def conforming_candidates(analysis: Analysis, mutated_keys: list[str]) -> dict[str, Candidate]:
    """Every strategy of which `mutated_keys` is an application to the analysed original, with the first
    candidate (in discovery order, as `check` picks it) that explains the edit; in the 18's order.

    Token streams that are equal are no mutation at all, so they give nothing (`check` alone would let an
    RdM* pattern "rewrite" itself into the same pattern).
    """
    okeys = _strip_semicolons(analysis.tokens.keys)
    mkeys = _strip_semicolons(mutated_keys)
    if okeys == mkeys:
        return {}
    prefix = _common_prefix(okeys, mkeys)
    suffix = _common_suffix(okeys, mkeys)
    found: dict[str, Candidate] = {}
    for candidate in analysis.candidates:
        if candidate.strategy not in found and _fits(candidate, okeys, mkeys, prefix, suffix):
            found[candidate.strategy] = candidate
    return {name: found[name] for name in STRATEGIES if name in found}


def _conforming(analysis: Analysis, mutated: str, strategy: str) -> tuple[Verdict, list[str]] | None:
    """(the verdict, the mutated keys) when the pair conforms, else None: then `_verdict` judges and explains.

    The same test as `_verdict`'s first step (same key lists, same candidates in the same order, same common
    prefix and suffix), but the mutated text is tokenized only around its edit (`keys_after_edit`), and the
    common prefix and suffix are counted on from what that already proved equal. PINOLO's pairs mostly
    conform, so most pairs are judged here.
    """
    own = analysis.by_strategy.get(strategy)
    if not own:
        return None
    try:
        mutated_keys, head, tail = keys_after_edit(analysis.tokens, mutated, analysis.long_look)
    except SqlSyntaxError:
        return None
    original_keys = analysis.tokens.keys
    okeys = _strip_semicolons(original_keys)
    mkeys = _strip_semicolons(mutated_keys)
    prefix = _common_prefix(okeys, mkeys, min(head, len(okeys), len(mkeys)))
    stripped = len(original_keys) - len(okeys)  # the shared tail ends with the same `;` run when it is longer
    suffix = _common_suffix(okeys, mkeys, tail - stripped if tail > stripped else 0)
    matched = _match(own, okeys, mkeys, prefix, suffix)
    if matched is None:
        return None
    return Verdict(True, matched.is_upper, CONFORMS, matched, kind=CONFORMS), mutated_keys


def _untraced(error: SqlSyntaxError) -> SqlSyntaxError:
    """`error` without its traceback and the exception it was raised while handling, to be kept in a local
    while the verdict is worked out.

    Either one reaches the frame of the judging function (a traceback's frames lead back to their callers),
    which holds the error in a local: a reference cycle that leaves the failed parse's frames and their token
    lists to the collector, which a batch runs rarely (`mutations.batch.batch_collections`). Without them they
    are freed as soon as the verdict is made. A verdict reads only the error's message.
    """
    error.__context__ = None
    return error.with_traceback(None)


def check(original: str, mutated: str, strategy: str) -> Verdict:
    """Judge one pair. Never raises for bad SQL or an unknown name: those are verdicts with a reason."""
    analysis: Analysis | SqlSyntaxError
    mutated_tokens: Tokens | SqlSyntaxError
    try:
        analysis = analyse(original)
    except SqlSyntaxError as error:
        analysis = _untraced(error)
    else:
        conforming = _conforming(analysis, mutated, strategy)
        if conforming is not None:
            return conforming[0]
    try:
        mutated_tokens = tokenize(mutated)
    except SqlSyntaxError as error:
        mutated_tokens = _untraced(error)
    return _verdict(analysis, mutated_tokens, strategy)


@dataclass(frozen=True, slots=True)
class Judgement:
    """A verdict plus the pair's fingerprints (None where a text does not tokenize), from one tokenization."""

    verdict: Verdict
    original_fingerprint: str | None
    pair_fingerprint: str | None


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def judge(original: str, mutated: str, strategy: str) -> Judgement:
    """`check` and `mutations.fingerprint` in one pass: what the warehouse's verdict step stores per pair."""
    analysis: Analysis | SqlSyntaxError
    original_keys: list[str] | None
    try:
        analysis = analyse(original)
        original_keys = analysis.tokens.keys
    except SqlSyntaxError as error:
        analysis = _untraced(error)
        try:
            original_keys = tokenize(original).keys
        except SqlSyntaxError:
            original_keys = None
    else:
        conforming = _conforming(analysis, mutated, strategy)
        if conforming is not None:
            original_text = normalise_keys(original_keys)
            pair_text = "\x1f".join((strategy, original_text, normalise_keys(conforming[1])))
            return Judgement(conforming[0], _sha256(original_text), _sha256(pair_text))
    mutated_tokens: Tokens | SqlSyntaxError
    try:
        mutated_tokens = tokenize(mutated)
    except SqlSyntaxError as error:
        mutated_tokens = _untraced(error)
    verdict = _verdict(analysis, mutated_tokens, strategy)
    if original_keys is None or isinstance(mutated_tokens, SqlSyntaxError):
        return Judgement(verdict, None, None)
    original_text = normalise_keys(original_keys)
    pair_text = "\x1f".join((strategy, original_text, normalise_keys(mutated_tokens.keys)))
    return Judgement(verdict, _sha256(original_text), _sha256(pair_text))


def _verdict(analysis: Analysis | SqlSyntaxError, mutated_tokens: Tokens | SqlSyntaxError, strategy: str) -> Verdict:
    if strategy not in RULES:
        return Verdict(False, None, f"unknown strategy {strategy!r}", kind="unknown_strategy")
    if isinstance(analysis, SqlSyntaxError):
        return Verdict(False, None, f"original SQL is not a readable SELECT: {analysis}", kind="original_unreadable")
    if isinstance(mutated_tokens, SqlSyntaxError):
        return Verdict(False, None, f"mutated SQL does not tokenize: {mutated_tokens}", kind="mutated_unreadable")
    okeys = _strip_semicolons(analysis.tokens.keys)
    mkeys = _strip_semicolons(mutated_tokens.keys)
    own = [candidate for candidate in analysis.candidates if candidate.strategy == strategy]
    prefix = _common_prefix(okeys, mkeys)
    suffix = _common_suffix(okeys, mkeys)
    matched = _match(own, okeys, mkeys, prefix, suffix)
    if matched is not None:
        return Verdict(True, matched.is_upper, CONFORMS, matched, kind=CONFORMS)
    kind, reason = _explain(analysis, mutated_tokens, okeys, mkeys, strategy, own, prefix, suffix)
    return Verdict(False, None, reason, kind=kind)


# -- explanations (only on the failure path, so clarity beats speed here) -----------------------------------


def _quote(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > 60:
        text = text[:28] + "…" + text[-28:]
    if "`" in text:  # Markdown's rule: a double-backtick span can hold single backticks
        return f"`` {text} ``"
    return f"`{text}`"


def _describe(otokens: Tokens, mtokens: Tokens, i1: int, i2: int, j1: int, j2: int) -> str:
    before = otokens.text(i1, i2)
    after = mtokens.text(j1, j2)
    if i1 == i2:
        where = otokens.starts[i1] if i1 < len(otokens) else len(otokens.sql)
        return f"{_quote(after)} was inserted at char {where}"
    if j1 == j2:
        return f"{_quote(before)} was removed at char {otokens.starts[i1]}"
    return f"{_quote(before)} became {_quote(after)} at char {otokens.starts[i1]}"


def _other_strategy(analysis: Analysis, okeys: list[str], mkeys: list[str], strategy: str, prefix: int,
                    suffix: int) -> str | None:
    others = [c for c in analysis.candidates if c.strategy != strategy]
    found = _match(others, okeys, mkeys, prefix, suffix)
    return found.strategy if found is not None else None


def _is_reverse(analysis: Analysis, mtokens: Tokens, okeys: list[str], mkeys: list[str], strategy: str) -> bool:
    """Does `strategy` turn the mutated query into the original (a pair written backwards)?"""
    if okeys == mkeys:
        return False
    try:
        backwards = analyse(mtokens.sql)
    except SqlSyntaxError:
        return False
    own = [candidate for candidate in backwards.candidates if candidate.strategy == strategy]
    return _match(own, mkeys, okeys, _common_prefix(mkeys, okeys), _common_suffix(mkeys, okeys)) is not None


def _explain(analysis: Analysis, mtokens: Tokens, okeys: list[str], mkeys: list[str], strategy: str,
             own: list[Candidate], prefix: int, suffix: int) -> tuple[str, str]:
    """(kind, reason): a stable category for grouping, and the sentence a person reads."""
    otokens = analysis.tokens
    try:
        parse(mtokens.sql)
    except SqlSyntaxError as error:
        if error.reason.startswith(("not a SELECT", "more than one statement")):
            return "mutated_not_select", f"mutated SQL is not a single SELECT: {error}"
    if _is_reverse(analysis, mtokens, okeys, mkeys, strategy):
        return "reversed", (f"this is the reverse of a {strategy} mutation: {strategy} turns the mutated query "
                            "into the original, so the two are swapped")
    other = _other_strategy(analysis, okeys, mkeys, strategy, prefix, suffix)
    if not own:
        reason = NO_CANDIDATE_REASONS[strategy]
        return "no_mutation_point", f"{reason} (the edit is a {other} mutation)" if other else reason
    if okeys == mkeys:
        return "identical", "the mutated query is identical to the original"
    if other:
        return "other_strategy", f"this is a {other} mutation, not {strategy}: {strategy} {RULES[strategy]}"
    n, m = len(okeys), len(mkeys)
    overlap = min(suffix, n - prefix, m - prefix)
    for candidate in own:  # one edit, inside a mutation point, with the wrong content
        head, tail = candidate.tok_start, n - candidate.tok_end
        if head <= prefix and tail <= overlap:
            change = _describe(otokens, mtokens, head, candidate.tok_end, head, m - tail)
            return "wrong_rewrite", f"{change}, which {strategy} never does: it {RULES[strategy]}"
    hunks = [op for op in difflib.SequenceMatcher(None, okeys, mkeys, autojunk=False).get_opcodes()
             if op[0] != "equal"]
    described = [_describe(otokens, mtokens, i1, i2, j1, j2) for _, i1, i2, j1, j2 in hunks[:3]]
    if len(hunks) == 1:
        return "outside_mutation_point", f"text changed outside the mutation point: {described[0]}"
    more = f" and {len(hunks) - 3} more" if len(hunks) > 3 else ""
    numbers = {2: "two", 3: "three"}
    count = numbers.get(len(hunks), str(len(hunks)))
    return "several_edits", f"{count} edits where {strategy} makes one: " + "; ".join(described) + more


def strategies_matching(original: str, mutated: str) -> list[str]:
    """Every strategy under whose name the pair conforms (used to spot mislabelled pairs)."""
    return [name for name in STRATEGIES if check(original, mutated, name).conforms]
