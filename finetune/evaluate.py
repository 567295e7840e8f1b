"""Evaluation: models and reference mutators side by side on a dataset's test split, judged our way.

Each test example (system + user messages, the expected mutated SQL, its strategy, DBMS and polarity from the
sidecar) goes to each *mutator*:
* a chat model through chat completions on any OpenAI-compatible endpoint (`name=model`, or a bare model
  name), concurrently under a rate limit, with the SDK's retries on 429/5xx; answers are cached in the
  warehouse by (endpoint, model, messages, parameters), so a rerun sends nothing it has sent before;
* `job:<id>`: the final model and every checkpoint of a fine-tuning job in `finetune.models`;
* a local model, served for the run by evaluate itself (`finetune.serve.background_server`: in this process, on a
  free loopback port, with a key made for the run), started when its first uncached request is due and stopped
  when its answers are in, also on an error or Ctrl-C: `name=<model folder>` (a base model, no adapter) and
  `name=local:<job id>` (a finished local job's final adapter, on its base model). A value is a folder when it
  is an existing directory or starts with `/`, `./`, `../` or `~`; anything else is a model name, as before.
  Their answers are cached under the folder and its files' sizes and times, not the port of the run;
* `reference`: the mutation engine applying the strategy (the candidate that gives the expected SQL when one
  does): the upper bound; `identity`: the input unchanged: the floor.

Verdicts per output: fences and prose are stripped and recorded (`clean` = neither); `exact` (equal to the
expected SQL); `normalised` (the same token stream, so case and spacing do not matter); `conforms` with
the checker's reason; and, when a server is given, `executable` and PINOLO's oracle against the original on
the §9.3 database. Metrics per mutator × strategy × DBMS carry Wilson 95% intervals, because a strategy
has few test examples.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import json
import logging
import math
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import yaml

from mutations import apply, check
from pinoloft_base.console import progress_bar
from mutations.errors import SqlSyntaxError
from mutations.tokens import tokenize

from .client import Service, call
from .errors import FinetuneError, LocalModelError, PlanError, ServiceRefused
from .store import Store, now_utc

__all__ = ["Mutator", "Example", "parse_mutators", "load_examples", "judge_output", "clean_output", "wilson",
           "evaluate", "EvaluationResult", "run_evaluation", "summary_rows", "SUMMARY_COLUMNS", "EXECUTE_CHOICES"]

log = logging.getLogger(__name__)

PRICES_PATH = Path(__file__).resolve().parent / "config" / "inference_prices.yml"
CHAT_PARAMETERS = {"temperature": 0, "max_tokens": 4096}
_CACHE_FLUSH = 20
# A local server generates one answer at a time: requests are sent one by one, without a rate limit, and wait as
# long as a long answer from a large model on a CPU takes.
LOCAL_TIMEOUT_S = 3600.0
_FOLDER_PREFIXES = ("/", "./", "../", "~")


# -- mutators ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mutator:
    """`name` is what reports show; `kind` is reference, identity, chat or local; `model` the API model name (for
    a local model, the name its server serves it under); `folder` the model folder a local one serves."""

    name: str
    kind: str
    model: str | None = None
    folder: Path | None = None


def parse_mutators(spec: str, store: Store | None = None) -> list[Mutator]:
    """`"base=gpt-4o-mini-2024-07-18 ft=ft:… reference identity job:ftjob-…"` → mutators, in that order;
    `"base=models/qwen tuned=local:local-…"` → local models, which `evaluate` serves itself."""
    mutators: list[Mutator] = []
    for token in spec.replace(",", " ").split():
        if token in ("reference", "identity"):
            mutators.append(Mutator(token, token))
        elif token.startswith("job:"):
            mutators.extend(_job_mutators(token[4:], store))
        elif token.startswith("local:"):
            mutators.append(_local_job_mutator(token, token[6:], store))
        elif "=" in token:
            name, model = token.split("=", 1)
            if not name or not model:
                raise PlanError(f"mutator {token!r}: write name=model")
            if model.startswith("local:"):
                mutators.append(_local_job_mutator(name, model[6:], store))
            elif model.startswith(_FOLDER_PREFIXES) or os.path.isdir(model):
                mutators.append(_local_folder_mutator(name, model))
            else:
                mutators.append(Mutator(name, "chat", model))
        else:
            mutators.append(Mutator(token, "chat", token))
    names = [mutator.name for mutator in mutators]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise PlanError(f"mutator names must differ: {', '.join(duplicated)} given twice")
    if not mutators:
        raise PlanError('no mutators: give e.g. MODELS="reference identity base=gpt-4o-mini-2024-07-18"')
    return mutators


def _job_mutators(job_id: str, store: Store | None) -> list[Mutator]:
    rows = store.query("SELECT model_name, kind, step FROM finetune.models WHERE job_id = ? "
                       "ORDER BY kind = 'final', step", [job_id]) if store else []
    if not rows:
        raise PlanError(f"job {job_id} has no model in finetune.models: `pinoloft jobs watch {job_id}` first")
    return [Mutator(f"job:{job_id}" if kind == "final" else f"job:{job_id}@{step}", "chat", name)
            for name, kind, step in rows]


def _local_folder_mutator(name: str, value: str) -> Mutator:
    """`name=<folder>`: a model folder (a base model; an adapter folder works too), checked now, served later."""
    from .local import require_model_dir
    from .serve import served_name

    folder = require_model_dir(value, what=f"mutator {name}: model folder")
    _check_adapter_base(folder, name)
    return Mutator(name, "local", served_name(folder), folder)


def _local_job_mutator(name: str, job_id: str, store: Store | None) -> Mutator:
    """`name=local:<job>`: the final adapter of a finished local LoRA job, found through the warehouse."""
    if not job_id:
        raise PlanError(f"mutator {name}: write {name}=local:<job id> (the ids: pinoloft jobs list)")
    rows = store.query("SELECT endpoint, status, result_files FROM finetune.jobs WHERE job_id = ?", [job_id]) \
        if store else []
    if not rows:
        raise PlanError(f"mutator {name}: no job {job_id} in finetune.jobs (pinoloft jobs list shows the jobs; a "
                        "local one comes from make train BACKEND=local)")
    endpoint, status, result_files = rows[0]
    if endpoint != "local":
        raise PlanError(f"mutator {name}: {job_id} is not a local job (it ran on {endpoint}): evaluate its "
                        f"models with job:{job_id}")
    if status != "succeeded":
        raise PlanError(f"mutator {name}: local job {job_id} is {status}, not finished: run its train command "
                        "again to resume it, then evaluate")
    final = store.query("SELECT model_name FROM finetune.models WHERE job_id = ? AND kind = 'final'", [job_id])
    if not final:
        raise PlanError(f"mutator {name}: local job {job_id} has no final model in finetune.models")
    folder = _job_adapter(job_id, result_files or [])
    if folder is None:
        from .local import DEFAULT_OUTPUT

        where = Path(result_files[0]).parent if result_files else DEFAULT_OUTPUT / job_id
        raise PlanError(f"mutator {name}: the adapter of local job {job_id} is not at {where / 'adapter'} "
                        "(moved or deleted?): give its folder instead, name=<adapter folder>")
    _check_adapter_base(folder, name)
    return Mutator(name, "local", final[0][0], folder)


def _job_adapter(job_id: str, result_files: list[str]) -> Path | None:
    """The job's `adapter/` folder: beside its results.csv (its output folder), else in the default output
    folder; only one whose pinoloft.json names the job."""
    from .local import DEFAULT_OUTPUT, MARKER

    candidates = [Path(path).parent / "adapter" for path in result_files[:1]] + [DEFAULT_OUTPUT / job_id / "adapter"]
    for folder in candidates:
        try:
            marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if marker.get("job_id") == job_id and (folder / "adapter_config.json").is_file():
            return folder.resolve()
    return None


def _check_adapter_base(folder: Path, name: str) -> None:
    """An adapter's base model must be on disk too: said before anything runs, not when its turn comes."""
    if (folder / "adapter_config.json").is_file():
        from .serve import _adapter_base

        try:
            _adapter_base(folder)
        except LocalModelError as error:
            raise LocalModelError(f"mutator {name}: {error}") from None


def _local_identity(folder: Path) -> str:
    """What the cache knows a local model by (its server's port changes every run): the folder, and the names,
    sizes and modification times of its files and of its base model's, so that new weights are asked again."""
    folders = [folder]
    if (folder / "adapter_config.json").is_file():
        from .serve import _adapter_base

        folders.append(_adapter_base(folder))
    digest = hashlib.sha256()
    for each in folders:
        for path in sorted(each.iterdir()):
            if path.is_file():
                stat = path.stat()
                digest.update(f"{each}/{path.name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return f"local:{folder}#{digest.hexdigest()[:16]}"


@contextlib.contextmanager
def _local_service(mutator: Mutator, result: "EvaluationResult") -> Iterator[Service]:
    """The mutator's model served for as long as the block runs (see `finetune.serve.background_server`)."""
    from .serve import background_server

    with background_server(mutator.folder, mutator.model) as server:
        result.servers[mutator.name] = server.base_url
        yield Service.local(server.base_url, server.api_key.decode("ascii"))


# -- examples ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    example_id: str
    strategy: str
    dbms: str | None
    is_upper: bool | None
    messages: tuple[tuple[str, str], ...]  # system and user messages, in order
    original: str
    expected: str


def load_examples(test_path: Path, limit: int | None = None) -> list[Example]:
    """The test split with its sidecar; PlanError naming the line when a line or its sidecar is unusable."""
    meta_path = test_path.with_name(test_path.name.replace(".jsonl", ".meta.jsonl"))
    if not test_path.is_file():
        raise PlanError(f"no test split {test_path}: export the dataset first")
    if not meta_path.is_file():
        raise PlanError(f"no sidecar {meta_path}: the evaluation needs each example's strategy")
    lines = test_path.read_text(encoding="utf-8").splitlines()
    metas = meta_path.read_text(encoding="utf-8").splitlines()
    if len(lines) != len(metas):
        raise PlanError(f"{meta_path} has {len(metas)} lines for {len(lines)} examples in {test_path}")
    examples = []
    for number, (line, meta_line) in enumerate(zip(lines, metas), start=1):
        try:
            messages = json.loads(line)["messages"]
            meta = json.loads(meta_line)
            prompt = tuple((message["role"], message["content"]) for message in messages
                           if message["role"] in ("system", "user"))
            user = [content for role, content in prompt if role == "user"][-1]
            expected = [message["content"] for message in messages if message["role"] == "assistant"][-1]
            examples.append(Example(meta.get("example_id") or f"line-{number}", meta["strategy"], meta.get("dbms"),
                                    meta.get("is_upper"), prompt, user, expected))
        except (ValueError, KeyError, IndexError, TypeError) as error:
            raise PlanError(f"{test_path}:{number}: not a chat example with a strategy ({error!r})") from None
        if limit is not None and len(examples) >= limit:
            break
    return examples


# -- verdicts ------------------------------------------------------------------------------------------------

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n?(.*?)```", re.DOTALL)
_SQL_START = re.compile(r"(?is)\b(SELECT|WITH)\b|\(\s*SELECT\b")


def clean_output(raw: str) -> tuple[str, bool, bool]:
    """(the SQL, fenced, prose): code fences removed (their content kept), and text around the SQL dropped."""
    text = raw.strip()
    fenced = False
    fence = _FENCE.search(text)
    if fence:
        fenced = True
        outside = (text[: fence.start()] + text[fence.end():]).strip()
        text = fence.group(2).strip()
        prose = bool(outside)
    else:
        prose = False
    start = _SQL_START.search(text)
    if start is None:
        return text, fenced, True  # no SQL at all: all prose
    if start.start() > 0:
        prose = True
        text = text[start.start():].strip()
    return text, fenced, prose


def _keys(sql: str) -> list[str] | None:
    try:
        return tokenize(sql).keys
    except SqlSyntaxError:
        return None


def judge_output(example: Example, raw: str) -> dict[str, Any]:
    """The API-free verdicts of one output."""
    text, fenced, prose = clean_output(raw)
    verdict = check(example.original, text, example.strategy)
    keys = _keys(text)
    return {
        "raw_output": raw, "output": text, "fenced": fenced, "prose": prose, "clean": not fenced and not prose,
        "exact": text == example.expected.strip(),
        "normalised": keys is not None and keys == _keys(example.expected),
        "conforms": verdict.conforms, "reason": None if verdict.conforms else verdict.reason,
        "reason_kind": verdict.kind,
    }


def reference_output(example: Example) -> str:
    """The engine's mutation: the candidate whose result is the expected SQL when there is one, else the first."""
    try:
        mutations = apply(example.original, example.strategy)
    except Exception as error:  # noqa: BLE001 - an unreadable original is the engine's failure, recorded
        log.debug("engine cannot mutate %s: %s", example.example_id, error)
        return example.original
    if not mutations:
        return example.original
    expected = _keys(example.expected)
    for mutation in mutations:
        if mutation.sql == example.expected or (expected is not None and _keys(mutation.sql) == expected):
            return mutation.sql
    return mutations[0].sql


def wilson(successes: int, trials: int, z: float = 1.959964) -> tuple[float | None, float | None]:
    """The Wilson score interval (95% by default) of successes/trials; (None, None) without trials."""
    if trials == 0:
        return None, None
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


# -- chat ----------------------------------------------------------------------------------------------------


class _RateLimiter:
    """At most `per_minute` request starts per minute, spread evenly, across threads."""

    def __init__(self, per_minute: float) -> None:
        self.interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self.next_start = time.monotonic()
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next_start)
            self.next_start = start + self.interval
        if start > now:
            time.sleep(start - now)


def _cache_key(endpoint: str, model: str, messages: list[dict], parameters: dict) -> str:
    blob = json.dumps([endpoint, model, messages, parameters], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _prices() -> dict:
    try:
        return yaml.safe_load(PRICES_PATH.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}


def _cost(model: str, prompt_tokens: int | None, completion_tokens: int | None, prices: dict) -> float | None:
    """USD at the listed prices (fine-tuned models at their base model's fine-tuned rates); None if unlisted."""
    fine_tuned = model.startswith("ft:")
    base = model.split(":")[1] if fine_tuned else model
    row = prices.get("models", {}).get(base)
    if row is None or prompt_tokens is None:
        return None
    prefix = "fine_tuned_" if fine_tuned else ""
    try:
        return (prompt_tokens * row[f"{prefix}input"] + (completion_tokens or 0) * row[f"{prefix}output"]) / 1_000_000
    except KeyError:
        return None


# -- the run -------------------------------------------------------------------------------------------------


@dataclass
class EvaluationResult:
    evaluation_id: int
    dataset: str
    mutators: list[Mutator]
    examples: list[Example]
    predictions: dict[tuple[str, str], dict] = field(default_factory=dict)  # (mutator, example_id) → row
    sent: int = 0
    cached: int = 0
    report: tuple[Path, Path] | None = None
    target: str | None = None
    servers: dict[str, str] = field(default_factory=dict)  # local mutator → base URL of the server it had


def evaluate(
    dataset: str,
    mutators: list[Mutator],
    store: Store,
    *,
    exports: Path = Path("data/exports"),
    service: Service | None = None,
    limit: int | None = None,
    concurrency: int = 4,
    requests_per_minute: float = 120.0,
    executor: Callable[[list[tuple[str, str]]], list[Any]] | None = None,
    target: str | None = None,
    reports: Path | None = Path("data/reports"),
    quiet: bool = False,
) -> EvaluationResult:
    """Run every mutator on the test split, judge, store and report; see the module docstring.

    `executor`, when given, executes (original, output) SQL pairs on a server and returns one
    (executable, oracle) per pair given is_upper: see `validation_executor`.
    """
    examples = load_examples(Path(exports) / dataset / "test.jsonl", limit)
    if not examples:
        raise PlanError(f"the test split of {dataset} is empty")
    chat = [mutator for mutator in mutators if mutator.kind == "chat"]
    if chat and (service is None or not service.has_key):
        where = service.key_source if service else "environment variable OPENAI_API_KEY"
        raise PlanError(f"chat models need an API key ({where} is not set); reference and identity need none")
    with store.transaction() as con:
        evaluation_id = con.execute("SELECT coalesce(max(evaluation_id), 0) + 1 FROM finetune.eval_runs").fetchall()[0][0]
        Store.upsert(con, "eval_runs", {
            "evaluation_id": evaluation_id, "dataset_name": dataset, "mutators": [m.name for m in mutators],
            "mutator_kinds": [m.kind for m in mutators],
            "mutator_models": [str(m.folder) if m.kind == "local" else m.model or m.kind for m in mutators],
            "examples": len(examples), "example_limit": limit, "target": target,
            "endpoint": service.endpoint if chat and service else
            ("local" if any(m.kind == "local" for m in mutators) else None), "started_at": now_utc(),
            "finished_at": None, "report_path": None})
    result = EvaluationResult(evaluation_id, dataset, mutators, examples, target=target)
    prices = _prices()
    for mutator in mutators:
        if mutator.kind in ("chat", "local"):
            outputs = _chat_outputs(mutator, examples, store, service, concurrency, requests_per_minute, quiet, result)
        else:
            outputs = {example.example_id: ((reference_output(example) if mutator.kind == "reference"
                                             else example.original), None, 0, 0, False) for example in examples}
        for example in examples:
            raw, error, prompt_tokens, completion_tokens, cached = outputs[example.example_id]
            row = {"evaluation_id": evaluation_id, "mutator": mutator.name, "example_id": example.example_id,
                   "strategy": example.strategy, "dbms": example.dbms, "is_upper": example.is_upper,
                   "original": example.original, "expected": example.expected}
            if raw is None:
                row.update(raw_output=None, output=None, exact=False, normalised=False, conforms=False,
                           reason=f"no output: {error}", reason_kind="no_output", clean=False, fenced=False,
                           prose=False)
            else:
                row.update(judge_output(example, raw))
            row.update(executable=None, oracle=None, error=error, prompt_tokens=prompt_tokens,
                       completion_tokens=completion_tokens, cached=cached,
                       cost_usd=_cost(mutator.model, prompt_tokens, completion_tokens, prices)
                       if mutator.kind == "chat" and raw is not None
                       else (0.0 if mutator.kind in ("reference", "identity") else None))
            result.predictions[(mutator.name, example.example_id)] = row
    if executor is not None:
        _execute(result, executor)
    _store(store, result)
    if reports is not None:
        from .evaluation_report import write_reports

        result.report = write_reports(report_data(store, evaluation_id), Path(reports) / dataset)
        with store.transaction() as con:
            con.execute("UPDATE finetune.eval_runs SET report_path = ? WHERE evaluation_id = ?",
                        [str(result.report[0]), evaluation_id])
    return result


def _chat_outputs(mutator: Mutator, examples: list[Example], store: Store, service: Service | None,
                  concurrency: int, requests_per_minute: float, quiet: bool, result: EvaluationResult
                  ) -> dict[str, tuple]:
    """example_id → (raw text or None, error, prompt tokens, completion tokens, from cache). A local mutator's
    server is started only when something is not in the cache, and stopped before this returns."""
    local = mutator.kind == "local"
    endpoint = _local_identity(mutator.folder) if local else service.endpoint
    requests = {}
    for example in examples:
        messages = [{"role": role, "content": content} for role, content in example.messages]
        requests[example.example_id] = (messages, _cache_key(endpoint, mutator.model, messages, CHAT_PARAMETERS))
    keys = sorted({key for _, key in requests.values()})
    cached = {row[0]: row[1:] for row in store.query(
        "SELECT cache_key, response, prompt_tokens, completion_tokens FROM finetune.eval_cache "
        "WHERE cache_key IN (SELECT unnest(?))", [keys])} if keys else {}
    outputs: dict[str, tuple] = {}
    for example_id, (_, key) in requests.items():
        if key in cached:
            response, prompt_tokens, completion_tokens = cached[key]
            outputs[example_id] = (response, None, prompt_tokens, completion_tokens, True)
    result.cached += len(outputs)
    todo = [(example_id, messages, key) for example_id, (messages, key) in requests.items() if example_id not in outputs]
    if not todo:
        return outputs
    with (_local_service(mutator, result) if local else contextlib.nullcontext(service)) as live, \
            (live.client(max_retries=0, timeout=LOCAL_TIMEOUT_S) if local else live.client(max_retries=5)) as client:
        # the client is closed before the server stops: its kept-alive connections would hold the server's workers
        _ask_all(mutator, todo, client, endpoint, store, 1 if local else concurrency,
                 0.0 if local else requests_per_minute, quiet, result, outputs)
    return outputs


def _ask_all(mutator: Mutator, todo: list[tuple[str, list[dict], str]], client, endpoint: str, store: Store,
             concurrency: int, requests_per_minute: float, quiet: bool, result: EvaluationResult,
             outputs: dict[str, tuple]) -> None:
    """Send `todo` (example id, messages, cache key) to `client`, filling `outputs` and the cache."""
    limiter = _RateLimiter(requests_per_minute)
    pending: list[dict] = []
    refused: list[ServiceRefused] = []

    def ask(messages: list[dict]) -> tuple[str, int | None, int | None]:
        limiter.wait()
        response = call(f"asking {mutator.model}", client.chat.completions.create, model=mutator.model,
                        messages=messages, **CHAT_PARAMETERS)
        usage = response.usage
        return (response.choices[0].message.content or "", usage.prompt_tokens if usage else None,
                usage.completion_tokens if usage else None)

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool, \
            progress_bar(total=len(todo), desc=mutator.name, unit="req", quiet=quiet) as bar:
        futures = {pool.submit(ask, messages): (example_id, key) for example_id, messages, key in todo}
        try:
            for future in as_completed(futures):
                example_id, key = futures[future]
                try:
                    text, prompt_tokens, completion_tokens = future.result()
                except ServiceRefused as error:
                    refused.append(error)
                    for other in futures:
                        other.cancel()
                    break
                except FinetuneError as error:
                    outputs[example_id] = (None, str(error), None, None, False)
                else:
                    outputs[example_id] = (text, None, prompt_tokens, completion_tokens, False)
                    pending.append({"cache_key": key, "endpoint": endpoint, "model": mutator.model,
                                    "response": text, "prompt_tokens": prompt_tokens,
                                    "completion_tokens": completion_tokens, "created_at": now_utc()})
                    result.sent += 1
                    if len(pending) >= _CACHE_FLUSH:
                        _flush_cache(store, pending)
                bar.update(1)
        except BaseException:
            for other in futures:  # Ctrl-C or an error: what has not started never will (the pool would wait)
                other.cancel()
            raise
        finally:
            _flush_cache(store, pending)  # what was answered is kept, also on Ctrl-C
    if refused:
        raise refused[0]


def _flush_cache(store: Store, pending: list[dict]) -> None:
    if pending:
        with store.transaction() as con:
            Store.insert_new(con, "eval_cache", list(pending))
        pending.clear()


def _execute(result: EvaluationResult, executor: Callable[[list[tuple[str, str, bool]]], list[Any]]) -> None:
    rows = [row for row in result.predictions.values() if row["output"] is not None]
    outcomes = executor([(row["original"], row["output"], bool(row["is_upper"])) for row in rows])
    for row, (executable, verdict) in zip(rows, outcomes):
        row["executable"], row["oracle"] = executable, verdict
    for row in result.predictions.values():
        if row["output"] is None:
            row["executable"] = False


def validation_executor(reader, admin, target_name: str = "mariadb", timeout_s: float = 10.0, row_cap: int = 100_000):
    """An executor on a validation target: every pair on the §9.3 database, through the SELECT-only runner."""
    from validation import StatementRunner, load_target
    from validation.databases import DatabaseLoader
    from mutations.oracle import oracle
    from validation.scope import REFERENCE_DATA_SQL, REFERENCE_DATA_SQL_HASH

    def run(pairs: list[tuple[str, str, bool]]) -> list[tuple[bool, str | None]]:
        with DatabaseLoader(admin, reader.user) as loader:
            database = loader.ensure(REFERENCE_DATA_SQL_HASH, REFERENCE_DATA_SQL, "reference output.data.sql")
        runner = StatementRunner(reader, load_target(target_name), timeout_s, row_cap)
        try:
            statements = [(database, sql) for original, output, _ in pairs for sql in (original, output)]
            outcomes = runner.execute_all(statements)
        finally:
            runner.close()
        verdicts = []
        for index, (_, _, is_upper) in enumerate(pairs):
            original, output = outcomes[2 * index], outcomes[2 * index + 1]
            verdicts.append((output.ok, oracle(original, output, is_upper)))
        return verdicts

    return run


EXECUTE_CHOICES = ("auto", "yes", "no")


def run_evaluation(
    dataset: str,
    models: str,
    store: Store,
    *,
    service_config: str | Path | None = None,
    exports: Path = Path("data/exports"),
    limit: int | None = None,
    concurrency: int = 4,
    requests_per_minute: float = 120.0,
    execute: str = "auto",
    server_dir: Path = Path("data/mariadb"),
    reports: Path | None = Path("data/reports"),
    quiet: bool = False,
) -> EvaluationResult:
    """`evaluate` as `make evaluate` runs it: the mutators parsed from `models` (see `parse_mutators`), the
    service loaded (from `service_config`, see `load_service`) only when a chat model is among them, and the
    outputs executed on a throwaway MariaDB when `execute` is yes, or auto and the server is installed."""
    from .client import load_service

    if execute not in EXECUTE_CHOICES:
        raise PlanError(f"execute must be one of {', '.join(EXECUTE_CHOICES)}, not {execute!r}")
    mutators = parse_mutators(models, store)
    service = load_service(service_config) if any(mutator.kind == "chat" for mutator in mutators) else None
    server = None
    if execute != "no":
        from validation import ThrowawayServer, mariadb_binaries

        if mariadb_binaries() is not None:
            server = ThrowawayServer(server_dir)
        elif execute == "yes":
            raise FinetuneError("--execute yes needs the MariaDB server (make setup installs it)")
        else:
            log.warning("execution not checked: the MariaDB server is not installed (make setup installs it)")
    with server.running_here() if server is not None else contextlib.nullcontext():
        executor = target = None
        if server is not None:
            executor, target = validation_executor(server.reader(), server.admin()), "mariadb"
        return evaluate(dataset, mutators, store, exports=exports, service=service, limit=limit,
                        concurrency=concurrency, requests_per_minute=requests_per_minute, executor=executor,
                        target=target, reports=reports, quiet=quiet)


SUMMARY_COLUMNS = ("mutator", "examples", "exact", "normalised", "conforms", "rate", "95% CI", "clean",
                   "executable", "oracle holds", "errors", "tokens", "cost USD")


def summary_rows(store: Store, result: EvaluationResult) -> list[tuple]:
    """One row of SUMMARY_COLUMNS per mutator (over all strategies and DBMSs), in the order they were given."""
    return store.query(
        "SELECT mutator, examples, exact, normalised, conforms, printf('%.0f%%', 100 * conforms_rate), "
        "printf('[%.0f%%, %.0f%%]', 100 * conforms_ci_low, 100 * conforms_ci_high), clean, executable, oracle_holds, "
        "errors, prompt_tokens + completion_tokens, round(cost_usd, 4) FROM finetune.eval_metrics "
        "WHERE evaluation_id = ? AND strategy = '*' AND dbms = '*' ORDER BY list_position(?, mutator)",
        [result.evaluation_id, [mutator.name for mutator in result.mutators]])


def _store(store: Store, result: EvaluationResult) -> None:
    rows = list(result.predictions.values())
    metrics: dict[tuple[str, str, str], list[dict]] = {}
    for row in rows:
        for strategy in (row["strategy"], "*"):
            for dbms in (row["dbms"] or "?", "*"):
                metrics.setdefault((row["mutator"], strategy, dbms), []).append(row)
    with store.transaction() as con:
        con.executemany(
            f"INSERT OR REPLACE INTO finetune.eval_predictions ({', '.join(rows[0])}) VALUES "
            f"({', '.join('?' for _ in rows[0])})", [list(row.values()) for row in rows])
        for (mutator, strategy, dbms), group in metrics.items():
            count = len(group)
            conforms = sum(bool(row["conforms"]) for row in group)
            exact = sum(bool(row["exact"]) for row in group)
            low, high = wilson(conforms, count)
            exact_low, exact_high = wilson(exact, count)
            costs = [row["cost_usd"] for row in group]
            Store.upsert(con, "eval_metrics", {
                "evaluation_id": result.evaluation_id, "mutator": mutator, "strategy": strategy, "dbms": dbms,
                "examples": count, "exact": exact, "normalised": sum(bool(row["normalised"]) for row in group),
                "conforms": conforms, "conforms_rate": conforms / count, "conforms_ci_low": low,
                "conforms_ci_high": high, "exact_ci_low": exact_low, "exact_ci_high": exact_high,
                "clean": sum(bool(row["clean"]) for row in group), "fenced": sum(bool(row["fenced"]) for row in group),
                "prose": sum(bool(row["prose"]) for row in group),
                "executable": sum(row["executable"] is True for row in group)
                if any(row["executable"] is not None for row in group) else None,
                "oracle_holds": sum(row["oracle"] == "holds" for row in group)
                if any(row["executable"] is not None for row in group) else None,
                "errors": sum(row["error"] is not None for row in group),
                "prompt_tokens": sum(row["prompt_tokens"] or 0 for row in group),
                "completion_tokens": sum(row["completion_tokens"] or 0 for row in group),
                "cost_usd": None if any(cost is None for cost in costs) else sum(costs),
            })
        con.execute("UPDATE finetune.eval_runs SET finished_at = ? WHERE evaluation_id = ?",
                    [now_utc(), result.evaluation_id])


def untested_strategies(store: Store, dataset: str, tested: list[str]) -> list[str]:
    """The strategies of `dataset`'s train split that have no test example (so no figure can be given for them),
    from marts.dataset_examples when the warehouse has it; [] otherwise."""
    if not store.query("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'marts' "
                       "AND table_name = 'dataset_examples'")[0][0]:
        return []
    trained = store.query("SELECT DISTINCT strategy FROM marts.dataset_examples WHERE dataset_name = ? "
                          "AND split = 'train' ORDER BY 1", [dataset])
    return [strategy for (strategy,) in trained if strategy not in tested]


def report_data(store: Store, evaluation_id: int) -> dict:
    """The report's input (see finetune/evaluation_report.py), read back from the warehouse."""
    run = store.query("SELECT dataset_name, mutators, mutator_kinds, mutator_models, target, "
                      "strftime(started_at, '%Y-%m-%d %H:%M:%S') FROM finetune.eval_runs WHERE evaluation_id = ?",
                      [evaluation_id])
    if not run:
        raise FinetuneError(f"no evaluation {evaluation_id} in the warehouse")
    dataset, names, kinds, api_models, target, started = run[0]
    overall = {row[0]: row for row in store.query(
        "SELECT mutator, examples, exact, normalised, conforms, conforms_ci_low, conforms_ci_high, clean, fenced, "
        "prose, executable, oracle_holds, prompt_tokens, completion_tokens, cost_usd, errors FROM finetune.eval_metrics "
        "WHERE evaluation_id = ? AND strategy = '*' AND dbms = '*'", [evaluation_id])}
    models = []
    for name, kind, api_model in zip(names, kinds, api_models):
        row = overall[name]
        models.append({"name": name, "kind": kind, "model": "engine" if kind == "reference" else api_model,
                       "examples": row[1], "exact": row[2], "normalised": row[3], "conforms": row[4],
                       "conforms_ci": [row[5], row[6]], "clean": row[7], "fenced": row[8], "prose": row[9],
                       "executable": row[10], "oracle_holds": row[11], "prompt_tokens": row[12],
                       "completion_tokens": row[13], "cost_usd": row[14], "errors": row[15]})
    strategies = [row[0] for row in store.query(
        "SELECT DISTINCT strategy FROM finetune.eval_metrics WHERE evaluation_id = ? AND strategy <> '*' ORDER BY 1",
        [evaluation_id])]
    per_strategy = [{"model": mutator, "strategy": strategy, "examples": examples, "conforms": conforms,
                     "rate": rate, "ci": [low, high]}
                    for mutator, strategy, examples, conforms, rate, low, high in store.query(
                        "SELECT mutator, strategy, examples, conforms, conforms_rate, conforms_ci_low, conforms_ci_high "
                        "FROM finetune.eval_metrics WHERE evaluation_id = ? AND strategy <> '*' AND dbms = '*' "
                        "ORDER BY strategy, list_position(?, mutator)", [evaluation_id, names])]
    failures = [{"model": mutator, "reason": reason, "count": count} for mutator, reason, count in store.query(
        "SELECT mutator, regexp_replace(reason, ' at char [0-9]+', '') AS reason, count(*) FROM finetune.eval_predictions "
        "WHERE evaluation_id = ? AND NOT conforms GROUP BY ALL ORDER BY 3 DESC, 1, 2 LIMIT 60", [evaluation_id])]
    examples: dict[str, dict] = {}
    for row in store.query(
            "SELECT example_id, strategy, dbms, is_upper, original, expected, mutator, output, raw_output, exact, "
            "normalised, conforms, reason, clean, fenced, prose, executable, oracle, error "
            "FROM finetune.eval_predictions WHERE evaluation_id = ? ORDER BY strategy, example_id", [evaluation_id]):
        example = examples.setdefault(row[0], {"example_id": row[0], "strategy": row[1], "dbms": row[2],
                                                "is_upper": row[3], "original": row[4], "expected": row[5],
                                                "outputs": {}})
        example["outputs"][row[6]] = {"text": row[7], "raw": row[8], "exact": row[9], "normalised": row[10],
                                      "conforms": row[11], "reason": row[12], "clean": row[13], "fenced": row[14],
                                      "prose": row[15], "executable": row[16], "oracle": row[17], "error": row[18]}
    return {"dataset": dataset, "evaluation_id": evaluation_id, "generated_at": f"{started} UTC", "target": target,
            "models": models, "strategies": strategies, "per_strategy": per_strategy, "failures": failures,
            "untested_strategies": untested_strategies(store, dataset, strategies),
            "examples": list(examples.values())}
