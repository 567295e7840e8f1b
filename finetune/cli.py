"""`python -m finetune`: train (a dry-run plan, or --submit; --backend local: LoRA on a local model folder),
serve (an OpenAI-compatible server for it), evaluate, experiments (+ compare), and the job commands
`jobs list|watch|status|cancel|plot` (also by their flat names: `python -m finetune watch`, …).

Each command parses its options, calls the library (`finetune.jobs`, `experiments`, `evaluate`, `local`,
`serve`, `plot`) and prints what it returns; the SQL and the SDK calls live there. The `add_*_command`
functions are what the front door (`pinoloft train|serve|evaluate|jobs|experiments`) registers too.

Exit codes are the project's (`pinoloft_base.cli.EXIT_CODES`, shown by --help): 0 ok; 1 the job failed or
was cancelled (a finding); 2 usage or input (options, a plan that cannot be submitted, a config, no API
key); 4 the service failed or refused (401, 403, 5xx, unreachable); 130 interrupted (what was stored stays;
`watch` resumes).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Callable, Sequence

from pinoloft_base.cli import command_parser, jobs_option, run, subcommand

from .errors import FinetuneError, UsageError
from .experiments import DEFAULT_EXPERIMENTS
from .plan import DEFAULT_EXPORTS, DEFAULT_SEED

__all__ = [
    "INTERRUPTED", "add_compare_command", "add_evaluate_command", "add_experiments_command", "add_jobs_command",
    "add_serve_command", "add_train_command", "build_parser", "main",
]

log = logging.getLogger("finetune")

# What Ctrl-C prints: nothing stored is lost, and following a job again picks up where the warehouse stops.
INTERRUPTED = "interrupted: what was stored stays; `pinoloft jobs watch` resumes"
DEFAULT_PLOTS = Path("data/finetune/plots")
DEFAULT_POLL_S = 5.0


def _service(args: argparse.Namespace):
    from .client import load_service

    return load_service(args.service)


def _store(args: argparse.Namespace):
    from .store import Store

    return Store(args.warehouse)


def _print_plan(plan, dry_run: bool) -> None:
    print(plan.describe())
    if dry_run:
        print("dry run: nothing was sent. With --submit (make train SUBMIT=1) it would:")
        for number, step in enumerate(plan.steps(), start=1):
            print(f"  {number}. {step}")


def _watch(args: argparse.Namespace, store, service, job_id: str) -> int:
    from .jobs import watch

    result = watch(job_id, store, service, poll_s=args.poll, quiet=args.quiet, plot_dir=DEFAULT_PLOTS)
    print(f"{result.job_id}: {result.status}; {result.steps} step(s) of {result.total_steps or '?'}, "
          f"{result.new_events} new event(s), {result.checkpoints} checkpoint(s), {result.result_rows} result row(s)")
    if result.fine_tuned_model:
        print(f"model: {result.fine_tuned_model} (in finetune.models)")
    if result.plot:
        print(f"curves: {result.plot}")
    return 0


def _table(headers: Sequence[str], rows: Sequence[Sequence]) -> None:
    cells = [[("" if value is None else str(value)) for value in row] for row in rows]
    widths = [max([len(header)] + [len(row[index]) for row in cells]) for index, header in enumerate(headers)]
    print("  ".join(header.ljust(width) for header, width in zip(headers, widths)).rstrip())
    for row in cells:
        print("  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip())
    if not cells:
        print("(none)")


# -- handlers ------------------------------------------------------------------------------------------------


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


def cmd_watch(args: argparse.Namespace) -> int:
    from .jobs import latest_job

    store = _store(args)
    return _watch(args, store, _service(args), args.job or latest_job(store))


def cmd_list(args: argparse.Namespace) -> int:
    from .jobs import JOB_COLUMNS, list_jobs, refresh_jobs

    store = _store(args)
    if args.remote:
        refresh_jobs(store, _service(args), args.limit)
    _table(JOB_COLUMNS, list_jobs(store, args.limit))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from .jobs import api_job, job_status, status_line

    api_job(args.job)  # before anything else: a local job has no service to ask
    print(status_line(job_status(args.job, _store(args), _service(args))))
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    from .jobs import cancel

    job = cancel(args.job, _store(args), _service(args))
    print(f"{job.id}: {job.status}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from .plot import plot_job

    path = plot_job(_store(args), args.job, args.output or DEFAULT_PLOTS / f"{args.job}.png")
    print(f"curves: {path}")
    return 0


def cmd_experiments(args: argparse.Namespace) -> int:
    if args.compare:
        return cmd_compare(args)
    from .experiments import plan_experiments, submit_experiment

    service = _service(args)
    plans = plan_experiments(service, args.dir, args.names or None, exports=args.exports, quiet=args.quiet)
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
        job_id, reused = submit_experiment(store, experiment, plan, poll_s=args.poll)
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


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluate import SUMMARY_COLUMNS, run_evaluation, summary_rows

    store = _store(args)
    result = run_evaluation(args.dataset, args.models, store, service_config=args.service, exports=args.exports,
                            limit=args.limit, concurrency=args.jobs, requests_per_minute=args.rpm,
                            execute=args.execute, server_dir=args.server_dir, reports=args.reports, quiet=args.quiet)
    print(f"evaluation {result.evaluation_id} of {args.dataset}: {len(result.examples)} test example(s), "
          f"{result.sent} request(s) sent, {result.cached} answered from the cache")
    _table(SUMMARY_COLUMNS, summary_rows(store, result))
    if result.report:
        print(f"report: {result.report[0]} and {result.report[1]}")
    return 0


# -- parsers -------------------------------------------------------------------------------------------------


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


def _subcommand(commands, name: str, help: str, description: str | None = None) -> argparse.ArgumentParser:
    return subcommand(commands, name, help=help, description=description or help)


def _service_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--service", type=Path, metavar="FILE",
                        help="service config (default finetune/service.yml if present, else the SDK's environment "
                        "variables)")


def _poll_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--poll", type=float, default=DEFAULT_POLL_S, metavar="SECONDS",
                        help=f"first poll interval in seconds (default {DEFAULT_POLL_S:g}; backs off to 60)")


def add_train_command(commands, name: str = "train") -> argparse.ArgumentParser:
    train = _subcommand(commands, name, "plan a fine-tuning job (dry run) or submit it with --submit; "
                        "--backend local trains a LoRA adapter on a local model folder")
    train.add_argument("--backend", choices=["openai", "local"], default="openai",
                       help="openai (default): a fine-tuning API; local: LoRA with transformers + peft")
    train.add_argument("--dataset", required=True)
    train.add_argument("--exports", type=Path, default=DEFAULT_EXPORTS)
    train.add_argument("--model", help="default: the model table's default (gpt-4o-mini-2024-07-18)")
    train.add_argument("--epochs", default="auto", help="a number or auto (default)")
    train.add_argument("--batch-size", default="auto")
    train.add_argument("--lr-multiplier", default="auto")
    train.add_argument("--suffix")
    train.add_argument("--seed", type=int, default=DEFAULT_SEED)
    train.add_argument("--submit", action="store_true", help="upload and create the job (otherwise a dry run)")
    train.add_argument("--no-watch", action="store_true", help="return after submitting")
    _service_option(train)
    _poll_option(train)
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
    return train


def add_serve_command(commands, name: str = "serve") -> argparse.ArgumentParser:
    from .serve import DEFAULT_API_KEY_ENV, ServerLimits

    serving = _subcommand(commands, name, "an OpenAI-compatible server for a local adapter or model folder")
    serving.add_argument("--model-dir", type=Path, required=True, help="adapter folder or full/merged model folder")
    serving.add_argument("--port", type=int, default=8000)
    serving.add_argument("--host", default="127.0.0.1")
    serving.add_argument("--name", help="served model name (default: from the folder's pinoloft.json, or its name)")
    serving.add_argument("--engine", choices=["auto", "vllm", "transformers"], default="auto",
                         help="auto: vLLM when installed and a GPU is visible, else transformers")
    serving.add_argument("--max-new-tokens", type=int, help="cap on generated tokens per request (transformers)")
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
    return serving


def add_evaluate_command(commands, name: str = "evaluate") -> argparse.ArgumentParser:
    from .evaluate import EXECUTE_CHOICES

    evaluation = _subcommand(commands, name, "models and reference mutators on a dataset's test split, judged")
    evaluation.add_argument("--dataset", required=True)
    evaluation.add_argument("--models", required=True,
                            help='e.g. "reference identity base=gpt-4o-mini-2024-07-18 ft=ft:… job:ftjob-…"')
    evaluation.add_argument("--exports", type=Path, default=DEFAULT_EXPORTS)
    evaluation.add_argument("--reports", type=Path, default=Path("data/reports"))
    evaluation.add_argument("--limit", type=int, help="only the first N test examples")
    jobs_option(evaluation, "chat requests in flight", 4)
    evaluation.add_argument("--rpm", type=float, default=120.0, help="request starts per minute (default 120)")
    evaluation.add_argument("--execute", choices=EXECUTE_CHOICES, default="auto",
                            help="run outputs on a throwaway MariaDB (auto: when it is installed)")
    evaluation.add_argument("--server-dir", type=Path, default=Path("data/mariadb"))
    _service_option(evaluation)
    evaluation.set_defaults(handler=cmd_evaluate)
    return evaluation


def _add_watch(commands, name: str) -> argparse.ArgumentParser:
    watching = _subcommand(commands, name, "follow a job until it ends, into the warehouse (resumable)")
    watching.add_argument("job", nargs="?", help="default: the newest unfinished job in the warehouse")
    _service_option(watching)
    _poll_option(watching)
    watching.set_defaults(handler=cmd_watch)
    return watching


def _add_list(commands, name: str) -> argparse.ArgumentParser:
    listing = _subcommand(commands, name, "jobs in the warehouse (--remote: refresh from the service first)")
    listing.add_argument("--remote", action="store_true")
    listing.add_argument("--limit", type=int, default=20)
    _service_option(listing)
    listing.set_defaults(handler=cmd_list)
    return listing


def _add_status(commands, name: str) -> argparse.ArgumentParser:
    status = _subcommand(commands, name, "one job's state, from the service")
    status.add_argument("job")
    _service_option(status)
    status.set_defaults(handler=cmd_status)
    return status


def _add_cancel(commands, name: str) -> argparse.ArgumentParser:
    cancelling = _subcommand(commands, name, "cancel a job")
    cancelling.add_argument("job")
    _service_option(cancelling)
    cancelling.set_defaults(handler=cmd_cancel)
    return cancelling


def _add_plot(commands, name: str) -> argparse.ArgumentParser:
    plot = _subcommand(commands, name, "loss and token-accuracy curves of a job as a PNG")
    plot.add_argument("job")
    plot.add_argument("--output", type=Path, help=f"default {DEFAULT_PLOTS}/<job>.png")
    plot.set_defaults(handler=cmd_plot)
    return plot


# The job commands: subcommands of `jobs`, and (for `python -m finetune`) top-level commands as well.
JOB_COMMANDS: dict[str, Callable[..., argparse.ArgumentParser]] = {
    "list": _add_list, "watch": _add_watch, "status": _add_status, "cancel": _add_cancel, "plot": _add_plot,
}


def add_jobs_command(commands, name: str = "jobs") -> argparse.ArgumentParser:
    group = _subcommand(commands, name, "fine-tuning jobs: " + ", ".join(JOB_COMMANDS),
                        "Fine-tuning jobs in the warehouse and on the service: list them, watch one to its end "
                        "(resumable), ask for its status, cancel it, plot its curves.")
    jobs = group.add_subparsers(dest="jobs_command", required=True, metavar="COMMAND")
    for job_command, add in JOB_COMMANDS.items():
        add(jobs, job_command)
    return group


def add_experiments_command(commands, name: str = "experiments") -> argparse.ArgumentParser:
    experiments = _subcommand(commands, name, "plan (or --submit) every experiment config, then compare them")
    experiments.add_argument("names", nargs="*", help="only these experiments (file stems)")
    experiments.add_argument("--dir", type=Path, default=DEFAULT_EXPERIMENTS)
    experiments.add_argument("--exports", type=Path, default=DEFAULT_EXPORTS)
    experiments.add_argument("--submit", action="store_true")
    experiments.add_argument("--no-watch", action="store_true")
    experiments.add_argument("--compare", action="store_true",
                             help="only the comparison table of the experiments in the warehouse (nothing planned)")
    _service_option(experiments)
    _poll_option(experiments)
    experiments.set_defaults(handler=cmd_experiments)
    return experiments


def add_compare_command(commands, name: str = "compare") -> argparse.ArgumentParser:
    compare = _subcommand(commands, name, "the experiments' results side by side")
    compare.set_defaults(handler=cmd_compare)
    return compare


def build_parser() -> argparse.ArgumentParser:
    parser, commands = command_parser(
        "python -m finetune",
        "Fine-tune on an exported dataset through any OpenAI-compatible fine-tuning API (OpenAI, Azure "
        "OpenAI, or a base_url), dry run by default, or with LoRA on a local model; follow jobs into the "
        "warehouse's finetune schema; serve and evaluate the models.")
    add_train_command(commands)
    add_serve_command(commands)
    add_evaluate_command(commands)
    add_jobs_command(commands)
    add_experiments_command(commands)
    add_compare_command(commands)
    for name, add in JOB_COMMANDS.items():  # the flat names scripts used before `jobs` grouped them
        add(commands, name)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run(build_parser(), argv, interrupted=INTERRUPTED)
