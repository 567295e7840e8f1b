"""The data check of chat fine-tuning JSONL: format errors, token counts, warnings, epochs and cost.

It follows OpenAI's cookbook "Data preparation and analysis for chat model fine-tuning", with these
corrections (each one decided here and tested in tests/exporters/test_exporters_check.py):

Reading
* Every physical line of the file is one example. A line that is not valid UTF-8, is blank, is not JSON
  (NaN and Infinity are not JSON either), or whose value is not an object counts as a `data_type` error,
  with its line number. The cookbook's `json.loads` loop stops with a traceback on the first such line.
* A file that cannot be read at all (missing, a folder, no permission) counts as one `data_type` error at
  line 0 and zero examples.

Format errors (the cookbook's 7 categories)
* Each category counts EXAMPLES, not messages: an example with three bad messages adds 1, not 3 (the
  cookbook counts message_missing_key, message_unrecognized_key, unrecognized_role and missing_content
  once per message). An example can be in several categories.
* `data_type`: see Reading. `missing_messages_list`: no "messages" key, or it is not a list, or it is empty
  (the cookbook iterates a string character by character). An example in either of these two categories is
  not checked further.
* `message_missing_key`: a message that is not an object (the cookbook tests `"role" in message`, which is a
  substring test on a string), or lacks "role" or "content".
* `message_unrecognized_key`: a key other than role, content, name, function_call and weight.
* `unrecognized_role`: a role other than system, user, assistant and function (a non-string role too).
* `missing_content`: "content" is present but is not a string with a non-blank character. Content must be a
  string: the content-part arrays of the multimodal format are out of scope for this text data and are
  flagged. The one exception, as in the cookbook, is a null content beside a `function_call`. An absent
  "content" key is a message_missing_key error only, not counted twice.
* `example_missing_assistant_message`: no message with role "assistant".

Statistics
* Tokens are counted with the model's encoding (o200k_base for gpt-4o-mini), built offline, with
  `encode_ordinary`: special-token strings count as ordinary text instead of raising (see Warnings).
* Per example, as in the cookbook: 3 tokens per message, plus the tokens of its role, content and name,
  plus 1 per name, plus 3 for the priming of the reply. A function_call is counted as its compact JSON
  text; weight is not text and adds nothing (the cookbook's `encode(value)` fails on both).
* Assistant tokens: the content tokens of the assistant messages (no overhead), as in the cookbook.
* Speed, same figures: an assistant text that differs from the user text before it by a few edits (a mutated
  SQL next to its original) is counted as the user count plus the difference of two small windows around
  the edits (`tokens.diff_window`, exact for o200k_base and cl100k_base; other patterns count in full).
  Batches are counted on a thread pool while the next batch is parsed.
* Distributions (messages, total tokens, assistant tokens per example), n_over_limit, epochs, billing and
  cost are computed over the examples without format errors ("valid examples"); see `stats` for the
  percentile method. n_missing_system / n_missing_user count, among the examples that have a non-empty
  messages list, those with no system / no user message.
* Epochs: the cookbook's default rule on the number of valid examples (`models.default_epochs`).
  Billing tokens = epochs x sum(min(token_limit, total tokens)). Cost = billing tokens x the model's price
  per 1M training tokens.

Warnings (never change the exit code of `check`)
* duplicates: examples equal to an earlier example of the same file (as JSON values, key order ignored);
* special tokens: examples with any of the encoding's special-token strings, or the ChatML markers, in a
  content or name;
* fewer than 10 valid examples (the service's minimum);
* examples over the model's token limit (they are truncated, and billed at the limit);
* examples without a system or a user message.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pinoloft_base.console import progress_bar

from .models import ModelSpec, billing_tokens, default_epochs, get_model, training_cost_usd
from .stats import distribution
from .tokens import TokenCounter, diff_window, get_encoding, window_safe

FORMAT_ERROR_CATEGORIES = (
    "data_type",
    "missing_messages_list",
    "message_missing_key",
    "message_unrecognized_key",
    "unrecognized_role",
    "missing_content",
    "example_missing_assistant_message",
)
RECOGNIZED_KEYS = frozenset({"role", "content", "name", "function_call", "weight"})
RECOGNIZED_ROLES = frozenset({"system", "user", "assistant", "function"})
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING_TOKENS = 3
MIN_EXAMPLES = 10
# Chat-format markers worth flagging whatever the encoding (ChatML and fill-in-the-middle), added to the
# encoding's own special tokens.
EXTRA_SPECIAL_STRINGS = ("<|im_start|>", "<|im_end|>", "<|im_sep|>", "<|endoftext|>", "<|endofprompt|>",
                         "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>")
MAX_LISTED = 1000  # problems, duplicates, ... kept with their line numbers (the counts are always exact)
BATCH_SIZE = 2048


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line that is not a JSON value: why."""

    detail: str


@dataclass(slots=True)
class ExampleStats:
    """What the check learnt about one example (one line)."""

    line: int
    problems: list[tuple[str, str]]  # (category, detail), at most one per category
    n_messages: int | None = None
    total_tokens: int | None = None
    assistant_tokens: int | None = None
    system_tokens: int | None = None
    user_tokens: int | None = None
    has_system: bool | None = None  # None: no messages list to look at
    has_user: bool | None = None
    special_tokens: tuple[str, ...] = ()
    digest: bytes | None = None  # of the example as a JSON value, for duplicates
    user_digest: bytes | None = None  # of the user contents, for overlap across splits

    @property
    def valid(self) -> bool:
        return not self.problems

    @property
    def categories(self) -> list[str]:
        return [category for category, _ in self.problems]


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def format_problems(example: object) -> list[tuple[str, str]]:
    """The format-error categories of one parsed example, each once, with the first offending detail."""
    if not isinstance(example, dict):
        return [("data_type", f"the line is {_json_type(example)}, expected an object")]
    if "messages" not in example:
        return [("missing_messages_list", "no 'messages' key")]
    messages = example["messages"]
    if not isinstance(messages, list):
        return [("missing_messages_list", f"'messages' is {_json_type(messages)}, expected an array")]
    if not messages:
        return [("missing_messages_list", "'messages' is empty")]
    found: dict[str, str] = {}
    has_assistant = False
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            found.setdefault("message_missing_key", f"message {index} is {_json_type(message)}, not an object")
            continue
        if "role" not in message or "content" not in message:
            missing = " and ".join(key for key in ("role", "content") if key not in message)
            found.setdefault("message_missing_key", f"message {index} has no {missing}")
        unknown = [key for key in message if key not in RECOGNIZED_KEYS]
        if unknown:
            found.setdefault("message_unrecognized_key",
                             f"message {index} has unrecognized key(s) {', '.join(map(repr, sorted(unknown)))}")
        role = message.get("role")
        if "role" in message and not (isinstance(role, str) and role in RECOGNIZED_ROLES):
            found.setdefault("unrecognized_role", f"message {index} has role {json.dumps(role)}")
        if role == "assistant":
            has_assistant = True
        if "content" in message:
            content = message["content"]
            if isinstance(content, str):
                if not content or content.isspace():
                    found.setdefault("missing_content",
                                     f"message {index} has {'blank' if content else 'empty'} content")
            elif not (content is None and message.get("function_call") is not None):
                found.setdefault("missing_content",
                                 f"message {index} content is {_json_type(content)}, expected a string")
    if not has_assistant:
        found["example_missing_assistant_message"] = "no message with role 'assistant'"
    return [(category, found[category]) for category in FORMAT_ERROR_CATEGORIES if category in found]


def _canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _canonical_digest(value: object) -> bytes:
    return hashlib.blake2b(_canonical_json(value).encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _frame(digest: Any, tag: bytes, text: str) -> None:
    data = text.encode("utf-8", "surrogatepass")
    digest.update(b"%s%d:" % (tag, len(data)))
    digest.update(data)


def _example_digest(example: dict[str, Any]) -> bytes:
    """A digest of the example as a JSON value (key order ignored), for exact duplicates.

    Equal to nothing but an equal value: every key and string is framed with its length, other values are
    framed as canonical JSON. Faster than hashing the canonical JSON of the whole example, because the long
    contents are hashed as they are instead of being escaped into JSON first.
    """
    digest = hashlib.blake2b(digest_size=16)
    for key in sorted(example):
        value = example[key]
        _frame(digest, b"k", key)
        if key == "messages" and isinstance(value, list):
            digest.update(b"L%d;" % len(value))
            for message in value:
                if not isinstance(message, dict):
                    _frame(digest, b"j", _canonical_json(message))
                    continue
                digest.update(b"D%d;" % len(message))
                for name in sorted(message):
                    field_value = message[name]
                    _frame(digest, b"k", name)
                    if isinstance(field_value, str):
                        _frame(digest, b"s", field_value)
                    else:
                        _frame(digest, b"j", _canonical_json(field_value))
        else:
            _frame(digest, b"j", _canonical_json(value))
    return digest.digest()


def _text_digest(text: str, person: bytes = b"") -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16, person=person).digest()


class Analyzer:
    """Turns batches of parsed examples into ExampleStats, counting the tokens of a batch in one go."""

    def __init__(self, model: ModelSpec, counter: TokenCounter) -> None:
        self.model = model
        self.counter = counter
        self.windows = window_safe(counter.encoding)
        specials = set(counter.encoding.special_tokens_set) | set(EXTRA_SPECIAL_STRINGS)
        self.special_strings = tuple(sorted(specials))
        longest_first = sorted(specials, key=lambda s: (-len(s), s))
        self._special_re = re.compile("|".join(re.escape(s) for s in longest_first))

    def _specials_in(self, messages: list[Any]) -> tuple[str, ...]:
        found: set[str] = set()
        for message in messages:
            if not isinstance(message, dict):
                continue
            for key in ("content", "name"):
                text = message.get(key)
                if isinstance(text, str) and "<|" in text:
                    found.update(self._special_re.findall(text))
        return tuple(sorted(found))

    def _plan_text(self, role: str, content: str, user_text: str | None, user_index: int, texts: list[str],
                   refs: list[tuple[str, int, int, int]]) -> None:
        """Queue `content` for counting: in full, or for an assistant text close to the user text before it,
        as that count plus the difference of two small windows (`tokens.diff_window`)."""
        if role == "assistant" and user_text is not None and self.windows:
            start, end_user, end_assistant = diff_window(user_text, content)
            if (end_user - start) + (end_assistant - start) < len(content) // 2:
                refs.append((role, user_index, len(texts), len(texts) + 1))
                texts.append(user_text[start:end_user])
                texts.append(content[start:end_assistant])
                return
        refs.append((role, len(texts), -1, -1))
        texts.append(content)

    def analyse(self, items: Sequence[tuple[int, object]], *, lines: Sequence[str] | None = None,
                track_user: bool = False) -> list[ExampleStats]:
        """Check a batch of (line number, parsed value or BadLine).

        `lines`, when given, are the examples' JSON texts as written by one `json.dumps` call each (the
        export path): their digest stands in for the canonical one. `track_user` computes the digest of the
        user contents, for overlap across splits.
        """
        return self.start(items, lines=lines, track_user=track_user)()

    def start(self, items: Sequence[tuple[int, object]], *, lines: Sequence[str] | None = None,
              track_user: bool = False) -> Callable[[], list[ExampleStats]]:
        """`analyse` in two steps: check formats and start counting now; the returned function finishes.

        Callers pipeline batches: they prepare batch k+1 while the token threads count batch k.
        """
        out: list[ExampleStats] = []
        texts: list[str] = []
        # per valid example: its stats, the part of its total known now (overheads, roles, system prompts,
        # names), and the references of its texts queued for counting
        plans: list[tuple[ExampleStats, int, list[tuple[str, int, int, int]]]] = []
        count_cached = self.counter.count_cached
        for position, (line, example) in enumerate(items):
            if isinstance(example, BadLine):
                out.append(ExampleStats(line=line, problems=[("data_type", example.detail)]))
                continue
            stats = ExampleStats(line=line, problems=format_problems(example))
            out.append(stats)
            if not isinstance(example, dict):
                continue
            stats.digest = _text_digest(lines[position]) if lines is not None else _example_digest(example)
            messages = example.get("messages")
            if not isinstance(messages, list) or not messages:
                continue
            roles = [message.get("role") for message in messages if isinstance(message, dict)]
            stats.has_system = "system" in roles
            stats.has_user = "user" in roles
            # a line from json.dumps(ensure_ascii=False) holds "<|" literally wherever a string does
            if lines is None or "<|" in lines[position]:
                stats.special_tokens = self._specials_in(messages)
            if track_user and stats.has_user:
                users = [m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "user"]
                only = users[0] if len(users) == 1 else None
                stats.user_digest = (_text_digest(only, b"one user") if isinstance(only, str)
                                     else _canonical_digest(users))
            if stats.problems:
                continue
            stats.n_messages = len(messages)
            fixed = REPLY_PRIMING_TOKENS
            system_tokens = 0
            # (role, index of the counted text, and for an assistant text counted as a difference from the
            # user text before it: the indexes of the two windows, see tokens.diff_window; else -1, -1)
            refs: list[tuple[str, int, int, int]] = []
            user_text, user_index = None, -1
            for message in messages:
                role = message["role"]
                fixed += TOKENS_PER_MESSAGE + count_cached(role)
                content = message["content"]
                if content and role == "system":
                    counted = count_cached(content)
                    fixed += counted
                    system_tokens += counted
                elif content:
                    self._plan_text(role, content, user_text, user_index, texts, refs)
                    if role == "user":
                        user_text, user_index = content, len(texts) - 1
                if "name" in message:
                    name = message["name"]
                    fixed += TOKENS_PER_NAME + count_cached(name if isinstance(name, str) else json.dumps(name))
                call = message.get("function_call")
                if call is not None:
                    fixed += self.counter.count(call if isinstance(call, str)
                                                else json.dumps(call, ensure_ascii=False, separators=(",", ":")))
            stats.system_tokens = system_tokens
            plans.append((stats, fixed, refs))
        pending_counts = self.counter.submit(texts)

        def finish() -> list[ExampleStats]:
            counts = pending_counts()
            for stats, fixed, refs in plans:
                total = fixed
                assistant = user = 0
                for role, index, window_base, window_text in refs:
                    counted = counts[index]
                    if window_base >= 0:
                        counted += counts[window_text] - counts[window_base]
                    total += counted
                    if role == "assistant":
                        assistant += counted
                    elif role == "user":
                        user += counted
                stats.total_tokens = total
                stats.assistant_tokens = assistant
                stats.user_tokens = user
            return out

        return finish


@dataclass
class Summary:
    """Accumulates ExampleStats (from one file, or several for a total) into a CheckResult."""

    source: str
    n_examples: int = 0
    format_errors: Counter = field(default_factory=Counter)
    problems: list[dict[str, object]] = field(default_factory=list)
    n_missing_system: int = 0
    n_missing_user: int = 0
    messages: list[int] = field(default_factory=list)
    total_tokens: list[int] = field(default_factory=list)
    assistant_tokens: list[int] = field(default_factory=list)
    first_seen: dict[bytes, str] = field(default_factory=dict)
    n_duplicates: int = 0
    duplicates: list[dict[str, str]] = field(default_factory=list)
    n_special: int = 0
    special_counts: Counter = field(default_factory=Counter)
    special: list[dict[str, object]] = field(default_factory=list)
    over_limit: list[dict[str, object]] = field(default_factory=list)
    n_over_limit: int = 0
    by_strategy_dbms: Counter | None = None
    notes: list[str] = field(default_factory=list)

    def add_file_error(self, detail: str) -> None:
        self.format_errors["data_type"] += 1
        self._note_problem(f"{self.source}:0", "data_type", detail)

    def _note_problem(self, location: str, category: str, detail: str) -> None:
        if len(self.problems) < MAX_LISTED:
            self.problems.append({"location": location, "category": category, "detail": detail})

    def add(self, stats: ExampleStats, source: str | None = None, token_limit: int | None = None) -> None:
        location = f"{source or self.source}:{stats.line}"
        self.n_examples += 1
        for category, detail in stats.problems:
            self.format_errors[category] += 1
            self._note_problem(location, category, detail)
        if stats.has_system is False:
            self.n_missing_system += 1
        if stats.has_user is False:
            self.n_missing_user += 1
        if stats.digest is not None:
            first = self.first_seen.setdefault(stats.digest, location)
            if first != location:
                self.n_duplicates += 1
                if len(self.duplicates) < MAX_LISTED:
                    self.duplicates.append({"location": location, "duplicate_of": first})
        if stats.special_tokens:
            self.n_special += 1
            self.special_counts.update(stats.special_tokens)
            if len(self.special) < MAX_LISTED:
                self.special.append({"location": location, "tokens": list(stats.special_tokens)})
        if stats.valid and stats.total_tokens is not None:
            self.messages.append(stats.n_messages or 0)
            self.total_tokens.append(stats.total_tokens)
            self.assistant_tokens.append(stats.assistant_tokens or 0)
            if token_limit is not None and stats.total_tokens > token_limit:
                self.n_over_limit += 1
                if len(self.over_limit) < MAX_LISTED:
                    self.over_limit.append({"location": location, "tokens": stats.total_tokens})

    def count_meta(self, strategy: object, dbms: object) -> None:
        if self.by_strategy_dbms is None:
            self.by_strategy_dbms = Counter()
        self.by_strategy_dbms[(str(strategy), str(dbms))] += 1

    def result(self, model: ModelSpec, encoding_name: str) -> CheckResult:
        n_valid = len(self.total_tokens)
        n_epochs = default_epochs(n_valid)
        billed = billing_tokens(self.total_tokens, model.token_limit, n_epochs)
        counts = None
        if self.by_strategy_dbms is not None:
            by_strategy: Counter = Counter()
            by_dbms: Counter = Counter()
            nested: dict[str, dict[str, int]] = {}
            for (strategy, dbms), count in sorted(self.by_strategy_dbms.items()):
                by_strategy[strategy] += count
                by_dbms[dbms] += count
                nested.setdefault(strategy, {})[dbms] = count
            counts = {"by_strategy": dict(sorted(by_strategy.items())), "by_dbms": dict(sorted(by_dbms.items())),
                      "by_strategy_dbms": nested}
        return CheckResult(
            source=self.source,
            model=model,
            encoding=encoding_name,
            n_examples=self.n_examples,
            n_valid=n_valid,
            format_errors={category: self.format_errors.get(category, 0) for category in FORMAT_ERROR_CATEGORIES},
            n_missing_system=self.n_missing_system,
            n_missing_user=self.n_missing_user,
            distributions={
                "messages": distribution(self.messages),
                "total_tokens": distribution(self.total_tokens),
                "assistant_tokens": distribution(self.assistant_tokens),
            },
            n_over_limit=self.n_over_limit,
            n_epochs=n_epochs,
            billing_tokens=billed,
            estimated_cost_usd=training_cost_usd(billed, model),
            n_duplicates=self.n_duplicates,
            n_special_token_examples=self.n_special,
            special_tokens=dict(sorted(self.special_counts.items())),
            counts=counts,
            problems=self.problems,
            duplicates=self.duplicates,
            special=self.special,
            over_limit=self.over_limit,
            notes=list(self.notes),
        )


@dataclass
class CheckResult:
    """The outcome of the data check of one file (or of several, for an export's total)."""

    source: str
    model: ModelSpec
    encoding: str
    n_examples: int
    n_valid: int
    format_errors: dict[str, int]
    n_missing_system: int
    n_missing_user: int
    distributions: dict[str, dict[str, int | float | None]]
    n_over_limit: int
    n_epochs: int
    billing_tokens: int
    estimated_cost_usd: float
    n_duplicates: int
    n_special_token_examples: int
    special_tokens: dict[str, int]
    counts: dict[str, Any] | None
    problems: list[dict[str, object]]
    duplicates: list[dict[str, str]]
    special: list[dict[str, object]]
    over_limit: list[dict[str, object]]
    notes: list[str]

    @property
    def n_format_errors(self) -> int:
        return sum(self.format_errors.values())

    @property
    def too_few_examples(self) -> bool:
        return self.n_valid < MIN_EXAMPLES

    def warning_items(self) -> list[tuple[str, str]]:
        """(kind, sentence) per warning: duplicates, special_tokens, too_few, over_limit, no_system, no_user, note."""
        out = []
        if self.n_duplicates:
            out.append(("duplicates", f"{self.n_duplicates} example(s) duplicate an earlier example"))
        if self.n_special_token_examples:
            tokens = ", ".join(self.special_tokens)
            out.append(("special_tokens",
                        f"{self.n_special_token_examples} example(s) contain special-token strings ({tokens})"))
        if self.too_few_examples:
            out.append(("too_few",
                        f"only {self.n_valid} valid example(s): fine-tuning needs at least {MIN_EXAMPLES}"))
        if self.n_over_limit:
            out.append(("over_limit", (f"{self.n_over_limit} example(s) exceed the {self.model.token_limit:,}-token "
                                       f"limit of {self.model.name} and will be truncated")))
        if self.n_missing_system:
            out.append(("no_system", f"{self.n_missing_system} example(s) have no system message"))
        if self.n_missing_user:
            out.append(("no_user", f"{self.n_missing_user} example(s) have no user message"))
        out.extend(("note", note) for note in self.notes)
        return out

    def warnings(self) -> list[str]:
        """One human sentence per warning."""
        return [text for _, text in self.warning_items()]

    def to_json(self, *, max_listed: int = 100) -> dict[str, Any]:
        """The `check --json` object: the documented keys, then `extra` with everything else."""
        return {
            "n_examples": self.n_examples,
            "format_errors": dict(self.format_errors),
            "n_missing_system": self.n_missing_system,
            "n_missing_user": self.n_missing_user,
            "distributions": self.distributions,
            "n_over_limit": self.n_over_limit,
            "token_limit": self.model.token_limit,
            "n_epochs": self.n_epochs,
            "billing_tokens": self.billing_tokens,
            "estimated_cost_usd": self.estimated_cost_usd,
            "extra": {
                "source": self.source,
                "model": self.model.name,
                "encoding": self.encoding,
                "usd_per_1m_training_tokens": self.model.usd_per_1m_training_tokens,
                "n_valid_examples": self.n_valid,
                "n_duplicates": self.n_duplicates,
                "n_special_token_examples": self.n_special_token_examples,
                "special_tokens": self.special_tokens,
                "min_examples": MIN_EXAMPLES,
                "too_few_examples": self.too_few_examples,
                "counts": self.counts,
                "warnings": self.warnings(),
                "problems": self.problems[:max_listed],
                "duplicates": self.duplicates[:max_listed],
                "special_token_examples": self.special[:max_listed],
                "over_limit_examples": self.over_limit[:max_listed],
            },
        }


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, object]]:
    """Yield (line number, parsed value or BadLine) for each line; OSError if the file cannot be opened."""
    with open(path, "rb") as handle:
        yield from _parse_lines(handle)


def _parse_lines(handle: IO[bytes]) -> Iterator[tuple[int, object]]:
    for number, raw in enumerate(handle, start=1):
        if raw.endswith(b"\n"):
            raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            yield number, BadLine(f"invalid UTF-8 at byte {error.start + 1} of the line")
            continue
        if not text.strip():
            yield number, BadLine("blank line")
            continue
        try:
            yield number, json.loads(text, parse_constant=_reject_constant)
        except json.JSONDecodeError as error:
            yield number, BadLine(f"invalid JSON: {error.msg} (column {error.colno})")
        except (ValueError, RecursionError) as error:
            yield number, BadLine(f"invalid JSON: {error}")


def meta_path_for(path: str | Path) -> Path | None:
    """`x/train.meta.jsonl` for `x/train.jsonl` (None for a file that is itself a sidecar or not .jsonl)."""
    path = Path(path)
    if not path.name.endswith(".jsonl") or path.name.endswith(".meta.jsonl"):
        return None
    return path.with_name(path.name[: -len(".jsonl")] + ".meta.jsonl")


def _read_meta(path: Path) -> list[tuple[object, object]] | str:
    """(strategy, dbms) per line of a sidecar, or the reason it cannot be used."""
    pairs: list[tuple[object, object]] = []
    try:
        with open(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                try:
                    record = json.loads(raw)
                except ValueError:
                    return f"{path.name}:{number} is not JSON"
                if not isinstance(record, dict):
                    return f"{path.name}:{number} is not an object"
                pairs.append((record.get("strategy"), record.get("dbms")))
    except OSError as error:
        return f"cannot read {path}: {error}"
    return pairs


def _count_lines(path: str | Path) -> int | None:
    try:
        with open(path, "rb") as handle:
            lines = 0
            last = b"\n"
            while chunk := handle.read(1 << 20):
                lines += chunk.count(b"\n")
                last = chunk[-1:]
            return lines + (last != b"\n")
    except OSError:
        return None


def _batched(items: Iterable[tuple[int, object]], size: int) -> Iterator[list[tuple[int, object]]]:
    batch: list[tuple[int, object]] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _add_all(summary: Summary, all_stats: list[ExampleStats], token_limit: int, bar: Any) -> None:
    for stats in all_stats:
        summary.add(stats, token_limit=token_limit)
    bar.update(len(all_stats))


def check_file(path: str | Path, model: str | ModelSpec | None = None, *, meta: str | Path | None | bool = True,
               threads: int | None = None, quiet: bool | None = None) -> CheckResult:
    """Check one JSONL file of chat examples. Never raises on bad content: everything is counted.

    `meta=True` looks for the sidecar `<name>.meta.jsonl` beside the file and, when it has one line per
    example, counts examples per strategy and DBMS from it; a path names the sidecar; False/None skips it.
    """
    spec = model if isinstance(model, ModelSpec) else get_model(model)
    encoding = get_encoding(spec.encoding)
    summary = Summary(source=str(path))
    total = _count_lines(path)
    with TokenCounter(encoding, threads) as counter:
        analyzer = Analyzer(spec, counter)
        try:
            handle = open(path, "rb")  # noqa: SIM115 (closed by the with below; opened first to tell errors apart)
        except OSError as error:
            summary.add_file_error(f"cannot read file: {error.strerror or error}")
        else:
            try:
                with handle, progress_bar(total=total, desc=f"check {Path(path).name}", unit="ex",
                                          quiet=quiet) as bar:
                    finish: Callable[[], list[ExampleStats]] | None = None
                    for batch in _batched(_parse_lines(handle), BATCH_SIZE):
                        started = analyzer.start(batch)  # counted on the pool while we read the next batch
                        if finish is not None:
                            _add_all(summary, finish(), spec.token_limit, bar)
                        finish = started
                    if finish is not None:
                        _add_all(summary, finish(), spec.token_limit, bar)
            except OSError as error:  # a read failing midway
                summary.add_file_error(f"cannot read file: {error.strerror or error}")
    meta_path = meta_path_for(path) if meta is True else (Path(meta) if meta else None)
    if meta_path is not None and meta_path.is_file():
        pairs = _read_meta(meta_path)
        if isinstance(pairs, str):
            summary.notes.append(f"sidecar not used: {pairs}")
        elif len(pairs) != summary.n_examples:
            summary.notes.append(f"sidecar not used: {meta_path.name} has {len(pairs)} lines for "
                                 f"{summary.n_examples} examples")
        else:
            for strategy, dbms in pairs:
                summary.count_meta(strategy, dbms)
    return summary.result(spec, encoding.name)


def check_examples(examples: Iterable[object], model: str | ModelSpec | None = None, *, source: str = "<examples>",
                   threads: int | None = None) -> CheckResult:
    """Check in-memory examples (parsed JSON values), numbered from 1 like lines."""
    spec = model if isinstance(model, ModelSpec) else get_model(model)
    encoding = get_encoding(spec.encoding)
    summary = Summary(source=source)
    with TokenCounter(encoding, threads) as counter:
        analyzer = Analyzer(spec, counter)
        for batch in _batched(enumerate(examples, start=1), BATCH_SIZE):
            for stats in analyzer.analyse(batch):
                summary.add(stats, token_limit=spec.token_limit)
    return summary.result(spec, encoding.name)
