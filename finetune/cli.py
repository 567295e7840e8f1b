"""`python -m finetune`: plan (dry run), submit, watch, list, status, cancel, experiments, compare, plot;
`train --backend local` (LoRA on a local model folder) and `serve` (an OpenAI-compatible server for it).

Exit codes (only this module maps errors to them): 0 ok; 1 a step failed (plan, data, service error);
2 usage; 3 the service refused (401, 403); 4 the job failed or was cancelled; 130 interrupted (what was
stored stays; `watch` resumes).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from pathlib import Path

from mutations.console import setup_logging

from ingest.errors import WarehouseError
from validation.errors import ValidationError

from .errors import FinetuneError, JobFailed, ServiceRefused

log = logging.getLogger("finetune")


class UsageError(Exception):
    """Options that do not go together (exit 2, like argparse's own usage errors)."""

DEFAULT_WAREHOUSE = Path("data/warehouse.duckdb")
DEFAULT_PLOTS = Path("data/finetune/plots")


def _service(args):
    from .client import load_service

    return load_service(args.service)


def _store(args):
    from .store import Store

    return Store(args.warehouse)


def _print_plan(plan, dry_run: bool) -> None:
    print(plan.describe())
    if dry_run:
        print("dry run: nothing was sent. With --submit (make train SUBMIT=1) it would:")
        for number, step in enumerate(plan.steps(), start=1):
            print(f"  {number}. {step}")


def _watch(args, store, service, job_id: str) -> int:
    from .jobs import watch

    result = watch(job_id, store, service, poll_s=args.poll, quiet=args.quiet, plot_dir=DEFAULT_PLOTS)
    print(f"{result.job_id}: {result.status}; {result.steps} step(s) of {result.total_steps or '?'}, "
          f"{result.new_events} new event(s), {result.checkpoints} checkpoint(s), {result.result_rows} result row(s)")
    if result.fine_tuned_model:
        print(f"model: {result.fine_tuned_model} (in finetune.models)")
    if result.plot:
        print(f"curves: {result.plot}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    if args.backend == "local":
        return _train_local(args)
    local_only = [flag for flag, value in (("--base-model", args.base_model), ("--lora-r", args.lora_r),
                                           ("--lora-alpha", args.lora_alpha), ("--learning-rate", args.learning_rate),
                                           ("--max-steps", args.max_steps), ("--output-dir", args.output_dir),
                                           ("--merge", args.merge)) if value not in (None, False)]
    if local_only:
        raise UsageError(f"{', '.join(local_only)}: only with --backend local")
    from .jobs import submit
    from .plan import Hyperparameters, plan_training

    service = _service(args)
    hyper = Hyperparameters.parse(args.epochs, args.batch_size, args.lr_multiplier)
    plan = plan_training(args.dataset, service, exports=args.exports, model=args.model, hyperparameters=hyper,
                         suffix=args.suffix, seed=args.seed, quiet=args.quiet)
    _print_plan(plan, dry_run=not args.submit)
    if not args.submit:
        return 0
    store = _store(args)
    job_id, reused = submit(plan, store, poll_s=args.poll)
    print(f"{'reusing' if reused else 'created'} job {job_id}")
    if args.no_watch:
        return 0
    return _watch(args, store, service, job_id)


def _train_local(args: argparse.Namespace) -> int:
    """The LoRA backend: no service, no key, no cost, so no dry run: the plan is printed, then it trains (or
    resumes the same job from its last checkpoint)."""
    from .local import plan_local, train_local

    if not args.base_model:
        raise UsageError("--backend local needs --base-model DIR (a local model folder; make train BASE_MODEL=DIR)")
    plan = plan_local(args.dataset, args.base_model, exports=args.exports, epochs=args.epochs,
                      batch_size=args.batch_size, learning_rate=args.learning_rate,
                      lora_r=8 if args.lora_r is None else args.lora_r,
                      lora_alpha=16 if args.lora_alpha is None else args.lora_alpha, max_length=args.max_length,
                      seed=args.seed, max_steps=args.max_steps, output_dir=args.output_dir, merge=args.merge)
    print(plan.describe())
    result = train_local(plan, _store(args), quiet=args.quiet)
    losses = ""
    if result.first_loss is not None:
        losses = f"; train loss {result.first_loss:.4f} -> {result.last_loss:.4f}"
    print(f"{result.job_id}: {result.status} at step {result.global_step} of {result.total_steps}"
          + (f" (resumed from {result.resumed_from})" if result.resumed_from else "")
          + f"; {len(result.checkpoints)} checkpoint(s){losses}")
    if result.adapter_dir:
        print(f"adapter: {result.adapter_dir} (make serve MODEL_DIR={result.adapter_dir}; served as {plan.final_name},"
              " in finetune.models)")
    if result.merged_dir:
        print(f"merged model: {result.merged_dir}")
    if result.status != "succeeded":
        print("stopped before the end: run the same command again to resume from the last checkpoint")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from .serve import ServerLimits, read_api_key, serve

    if args.api_key is not None:
        raise UsageError("--api-key: a key on the command line is visible to every local user (ps) and stays in "
                         f"shell histories; put it in ${args.api_key_env} or in a file named by --api-key-file")
    limits = ServerLimits(max_body_bytes=args.max_body_bytes, max_connections=args.max_connections,
                          request_timeout=args.request_timeout, queue_wait=args.queue_wait)
    return serve(args.model_dir, name=args.name, host=args.host, port=args.port, engine=args.engine,
                 max_new_tokens=args.max_new_tokens, api_key=read_api_key(args.api_key_env, args.api_key_file),
                 limits=limits)


def _positive(kind):
    """An argparse type: a number of `kind` above zero."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not 0 < value < float("inf"):
            raise argparse.ArgumentTypeError(f"must be a finite number above zero: {text!r}")
        return value
    return parse


def _api_job(job_id: str) -> str:
    """`job_id`, unless it is a local LoRA job, which no service knows."""
    if job_id.startswith("local-"):
        raise UsageError(f"{job_id} is a local LoRA job: `train --backend local` follows it itself (rerun the same "
                         "command to resume it); its state is in finetune.jobs (`python -m finetune list`)")
    return job_id


def cmd_watch(args: argparse.Namespace) -> int:
    store = _store(args)
    job_id = args.job and _api_job(args.job)
    if job_id is None:
        rows = store.query("SELECT job_id FROM finetune.jobs WHERE endpoint IS DISTINCT FROM 'local' "
                           "ORDER BY (status IN ('succeeded', 'failed', 'cancelled')), created_at DESC LIMIT 1")
        if not rows:
            raise FinetuneError("no job in the warehouse yet: name one, or submit with make train SUBMIT=1")
        job_id = rows[0][0]
    return _watch(args, store, _service(args), job_id)


def cmd_list(args: argparse.Namespace) -> int:
    store = _store(args)
    if args.remote:
        from .client import call
        from .jobs import record_job

        service = _service(args)
        page = call("listing jobs", service.client().fine_tuning.jobs.list, limit=args.limit)
        for job in page.data:
            record_job(store, service, job)
    rows = store.query("SELECT job_id, status, model, dataset_name, experiment, n_epochs, fine_tuned_model, "
                       "strftime(created_at, '%Y-%m-%d %H:%M') FROM finetune.jobs ORDER BY created_at DESC LIMIT ?",
                       [args.limit])
    _table(("job", "status", "model", "dataset", "experiment", "epochs", "fine-tuned model", "created (UTC)"), rows)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from .client import call
    from .jobs import record_job

    _api_job(args.job)
    service = _service(args)
    store = _store(args)
    job = call(f"reading job {args.job}", service.client().fine_tuning.jobs.retrieve, args.job)
    record_job(store, service, job)
    line = f"{job.id}: {job.status} on {job.model}"
    if job.fine_tuned_model:
        line += f" -> {job.fine_tuned_model}"
    if job.trained_tokens:
        line += f"; {job.trained_tokens:,} trained tokens"
    if job.error and (job.error.code or job.error.message):
        line += f"; error {job.error.code}: {job.error.message}"
    print(line)
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    from .jobs import cancel

    job = cancel(_api_job(args.job), _store(args), _service(args))
    print(f"{job.id}: {job.status}")
    return 0


def cmd_experiments(args: argparse.Namespace) -> int:
    from .experiments import load_experiments, plan_experiment, record_experiment
    from .jobs import submit

    service = _service(args)
    experiments = load_experiments(args.dir, args.names or None)
    plans = [(experiment, plan_experiment(experiment, service, exports=args.exports, quiet=args.quiet))
             for experiment in experiments]
    for experiment, plan in plans:
        print(f"== {experiment.name} ({experiment.path})")
        _print_plan(plan, dry_run=False)
    if not args.submit:
        print(f"dry run: {len(plans)} experiment(s) planned, nothing sent; --submit (make experiments SUBMIT=1) "
              "submits them all (jobs with the same data and parameters are reused)")
        return 0
    store = _store(args)
    jobs = []
    for experiment, plan in plans:
        job_id, reused = submit(plan, store, poll_s=args.poll)
        record_experiment(store, experiment, plan, job_id)
        print(f"{experiment.name}: {'reusing' if reused else 'created'} job {job_id}")
        jobs.append(job_id)
    if not args.no_watch:
        for job_id in jobs:
            try:
                _watch(args, store, service, job_id)
            except FinetuneError as error:  # one failed job does not stop the others from being followed
                log.error("%s", error)
    return cmd_compare(args)


def cmd_compare(args: argparse.Namespace) -> int:
    from .experiments import COMPARE_COLUMNS, compare_rows

    _table(COMPARE_COLUMNS, compare_rows(_store(args)))
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from .plot import plot_job

    path = plot_job(_store(args), args.job, args.output or DEFAULT_PLOTS / f"{args.job}.png")
    print(f"curves: {path}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate, parse_mutators, validation_executor

    store = _store(args)
    mutators = parse_mutators(args.models, store)
    service = _service(args) if any(mutator.kind == "chat" for mutator in mutators) else None
    server = executor = target = None
    if args.execute != "no":
        from validation import ThrowawayServer, mariadb_binaries

        if mariadb_binaries() is not None:
            server = ThrowawayServer(args.server_dir)
        elif args.execute == "yes":
            raise FinetuneError("--execute yes needs the MariaDB server (make setup installs it)")
        else:
            log.warning("execution not checked: the MariaDB server is not installed (make setup installs it)")
    with server.running_here() if server is not None else contextlib.nullcontext():
        if server is not None:
            executor, target = validation_executor(server.reader(), server.admin()), "mariadb"
        result = evaluate(args.dataset, mutators, store, exports=args.exports, service=service, limit=args.limit,
                          concurrency=args.concurrency, requests_per_minute=args.rpm, executor=executor,
                          target=target, reports=args.reports, quiet=args.quiet)
    rows = store.query(
        "SELECT mutator, examples, exact, normalised, conforms, printf('%.0f%%', 100 * conforms_rate), "
        "printf('[%.0f%%, %.0f%%]', 100 * conforms_ci_low, 100 * conforms_ci_high), clean, executable, oracle_holds, "
        "errors, prompt_tokens + completion_tokens, round(cost_usd, 4) FROM finetune.eval_metrics "
        "WHERE evaluation_id = ? AND strategy = '*' AND dbms = '*' ORDER BY list_position(?, mutator)",
        [result.evaluation_id, [mutator.name for mutator in mutators]])
    print(f"evaluation {result.evaluation_id} of {args.dataset}: {len(result.examples)} test example(s), "
          f"{result.sent} request(s) sent, {result.cached} answered from the cache")
    _table(("mutator", "examples", "exact", "normalised", "conforms", "rate", "95% CI", "clean", "executable",
            "oracle holds", "errors", "tokens", "cost USD"), rows)
    if result.report:
        print(f"report: {result.report[0]} and {result.report[1]}")
    return 0


def _table(headers, rows) -> None:
    cells = [[("" if value is None else str(value)) for value in row] for row in rows]
    widths = [max([len(header)] + [len(row[index]) for row in cells]) for index, header in enumerate(headers)]
    print("  ".join(header.ljust(width) for header, width in zip(headers, widths)).rstrip())
    for row in cells:
        print("  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip())
    if not cells:
        print("(none)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m finetune",
        description="Fine-tune on an exported dataset through any OpenAI-compatible fine-tuning API (OpenAI, Azure "
        "OpenAI, or a base_url), dry run by default; follow jobs into the warehouse's finetune schema.",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars or informational logs")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--warehouse", type=Path, default=DEFAULT_WAREHOUSE)
    parser.add_argument("--service", type=Path, help="service config (default finetune/service.yml if present)")
    parser.add_argument("--poll", type=float, default=5.0, help="first poll interval in seconds (backs off to 60)")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="plan a job (dry run) or submit it with --submit; --backend local "
                                "trains a LoRA adapter on a local model folder")
    train.add_argument("--backend", choices=["openai", "local"], default="openai",
                       help="openai (default): a fine-tuning API; local: LoRA with transformers + peft")
    train.add_argument("--dataset", required=True)
    train.add_argument("--exports", type=Path, default=Path("data/exports"))
    train.add_argument("--model", help="default: the model table's default (gpt-4o-mini-2024-07-18)")
    train.add_argument("--epochs", default="auto", help="a number or auto (default)")
    train.add_argument("--batch-size", default="auto")
    train.add_argument("--lr-multiplier", default="auto")
    train.add_argument("--suffix")
    train.add_argument("--seed", type=int, default=42)
    train.add_argument("--submit", action="store_true", help="upload and create the job (otherwise a dry run)")
    train.add_argument("--no-watch", action="store_true", help="return after submitting")
    local = train.add_argument_group("--backend local (LoRA on a local model folder; nothing is downloaded)")
    local.add_argument("--base-model", type=Path, help="local model folder (config.json, weights, tokenizer)")
    local.add_argument("--lora-r", type=int, help="LoRA rank (default 8)")
    local.add_argument("--lora-alpha", type=int, help="LoRA alpha (default 16)")
    local.add_argument("--learning-rate", type=float, help="default 2e-4")
    local.add_argument("--max-length", type=int, default=2048, help="tokens per example, longer ones cut (2048)")
    local.add_argument("--max-steps", type=int,
                       help="stop after this many optimizer steps in all (a checkpoint is saved; rerun to resume)")
    local.add_argument("--output-dir", type=Path, help="default data/finetune/local/<job>")
    local.add_argument("--merge", action="store_true", help="also write the merged model to <output-dir>/merged")
    train.set_defaults(handler=cmd_train)

    serving = commands.add_parser("serve", help="an OpenAI-compatible server for a local adapter or model folder")
    serving.add_argument("--model-dir", type=Path, required=True, help="adapter folder or full/merged model folder")
    serving.add_argument("--port", type=int, default=8000)
    serving.add_argument("--host", default="127.0.0.1")
    serving.add_argument("--name", help="served model name (default: from the folder's pinoloft.json, or its name)")
    serving.add_argument("--engine", choices=["auto", "vllm", "transformers"], default="auto",
                         help="auto: vLLM when installed and a GPU is visible, else transformers")
    serving.add_argument("--max-new-tokens", type=int, help="cap on generated tokens per request (transformers)")
    from .serve import DEFAULT_API_KEY_ENV, ServerLimits

    serving.add_argument("--api-key-env", metavar="NAME", default=DEFAULT_API_KEY_ENV,
                         help="environment variable holding the key clients must send as `Authorization: Bearer` "
                         f"(default {DEFAULT_API_KEY_ENV}; unset: no key)")
    serving.add_argument("--api-key-file", type=Path, metavar="PATH",
                         help="file holding the key instead (its first and last whitespace dropped)")
    serving.add_argument("--api-key", metavar="KEY", help="refused: a key in argv is visible in ps; use the above")
    serving.add_argument("--max-body-bytes", type=_positive(int), default=ServerLimits.max_body_bytes,
                         help=f"larger request bodies get 413 unread (default {ServerLimits.max_body_bytes})")
    serving.add_argument("--max-connections", type=_positive(int), default=ServerLimits.max_connections,
                         help=f"connections served at once (default {ServerLimits.max_connections})")
    serving.add_argument("--request-timeout", type=_positive(float), default=ServerLimits.request_timeout,
                         help="seconds for a request to arrive whole, or an idle connection to send one "
                         f"(default {ServerLimits.request_timeout:g})")
    serving.add_argument("--queue-wait", type=_positive(float), default=ServerLimits.queue_wait,
                         help="seconds a connection beyond --max-connections waits for a free one before its 503 "
                         f"(default {ServerLimits.queue_wait:g})")
    serving.set_defaults(handler=cmd_serve)

    watch = commands.add_parser("watch", help="follow a job until it ends (resumable)")
    watch.add_argument("job", nargs="?", help="default: the newest unfinished job in the warehouse")
    watch.set_defaults(handler=cmd_watch)

    listing = commands.add_parser("list", help="jobs in the warehouse (--remote: refresh from the service)")
    listing.add_argument("--remote", action="store_true")
    listing.add_argument("--limit", type=int, default=20)
    listing.set_defaults(handler=cmd_list)

    status = commands.add_parser("status", help="one job's state, from the service")
    status.add_argument("job")
    status.set_defaults(handler=cmd_status)

    cancel = commands.add_parser("cancel", help="cancel a job")
    cancel.add_argument("job")
    cancel.set_defaults(handler=cmd_cancel)

    experiments = commands.add_parser("experiments", help="plan (or --submit) every experiment config")
    experiments.add_argument("names", nargs="*", help="only these experiments (file stems)")
    experiments.add_argument("--dir", type=Path, default=Path("finetune/experiments"))
    experiments.add_argument("--exports", type=Path, default=Path("data/exports"))
    experiments.add_argument("--submit", action="store_true")
    experiments.add_argument("--no-watch", action="store_true")
    experiments.set_defaults(handler=cmd_experiments)

    compare = commands.add_parser("compare", help="the experiments' results side by side")
    compare.set_defaults(handler=cmd_compare)

    evaluation = commands.add_parser("evaluate", help="models and reference mutators on the test split, judged")
    evaluation.add_argument("--dataset", required=True)
    evaluation.add_argument("--models", required=True,
                            help='e.g. "reference identity base=gpt-4o-mini-2024-07-18 ft=ft:… job:ftjob-…"')
    evaluation.add_argument("--exports", type=Path, default=Path("data/exports"))
    evaluation.add_argument("--reports", type=Path, default=Path("data/reports"))
    evaluation.add_argument("--limit", type=int, help="only the first N test examples")
    evaluation.add_argument("--concurrency", type=int, default=4, help="requests in flight (default 4)")
    evaluation.add_argument("--rpm", type=float, default=120.0, help="request starts per minute (default 120)")
    evaluation.add_argument("--execute", choices=["auto", "yes", "no"], default="auto",
                            help="run outputs on a throwaway MariaDB (auto: when it is installed)")
    evaluation.add_argument("--server-dir", type=Path, default=Path("data/mariadb"))
    evaluation.set_defaults(handler=cmd_evaluate)

    plot = commands.add_parser("plot", help="loss and token-accuracy curves of a job as a PNG")
    plot.add_argument("job")
    plot.add_argument("--output", type=Path)
    plot.set_defaults(handler=cmd_plot)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(quiet=args.quiet, verbose=args.verbose)
    try:
        return args.handler(args)
    except UsageError as error:
        parser.print_usage(sys.stderr)
        log.error("%s", error)
        return 2
    except ServiceRefused as error:
        log.error("%s", error)
        return 3
    except JobFailed as error:
        log.error("%s", error)
        return 4
    except (FinetuneError, WarehouseError, ValidationError) as error:
        log.error("%s", error)
        return 1
    except KeyboardInterrupt:
        log.error("interrupted: what was stored stays; `python -m finetune watch` resumes")
        return 130
