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
    local_only = [flag for flag, value in (
        ("--recipe", args.recipe), ("--base-model", args.base_model), ("--lora-r", args.lora_r),
        ("--lora-alpha", args.lora_alpha), ("--lora-dropout", args.lora_dropout),
        ("--lora-target-modules", args.lora_target_modules), ("--learning-rate", args.learning_rate),
        ("--max-length", args.max_length), ("--max-steps", args.max_steps), ("--output-dir", args.output_dir),
        ("--merge", args.merge), ("--gradient-accumulation-steps", args.gradient_accumulation_steps),
        ("--gradient-checkpointing", args.gradient_checkpointing), ("--quantization", args.quantization),
        ("--over-length", args.over_length), ("--preview", args.preview)) if value is not None]
    if local_only:
        raise UsageError(f"{', '.join(local_only)}: only with --backend local")
    if not args.dataset:
        raise UsageError("train needs --dataset NAME (make train DATASET=NAME)")
    from .jobs import submit
    from .plan import Hyperparameters, plan_training

    service = _service(args)
    hyper = Hyperparameters.parse(args.epochs, args.batch_size, args.lr_multiplier)
    plan = plan_training(args.dataset, service, exports=args.exports, model=args.model, hyperparameters=hyper,
                         suffix=args.suffix, seed=DEFAULT_SEED if args.seed is None else args.seed, quiet=args.quiet)
    _print_plan(plan, dry_run=not args.submit)
    if not args.submit:
        return 0
    store = _store(args)
    job_id, reused = submit(plan, store, poll_s=args.poll)
    print(f"{'reusing' if reused else 'created'} job {job_id}")
    if args.no_watch:
        return 0
    return _watch(args, store, service, job_id)


def _local_count(flag: str, text: str | None) -> int | None:
    """--epochs / --batch-size for the local backend: a number, or auto / absent for the recipe's value."""
    from .recipes import RecipeError

    if text is None or text.strip().lower() == "auto":
        return None
    try:
        return int(text)
    except ValueError:
        raise RecipeError(f"{flag}: must be an integer or auto, not {text!r}") from None


def local_recipe(args: argparse.Namespace):
    """The recipe file named by --recipe (or the defaults), with every flag given on the command line in place
    of its value."""
    from .recipes import Recipe, load_recipe

    recipe = load_recipe(args.recipe) if args.recipe else Recipe()
    return recipe.override(
        dataset=args.dataset, base_model=args.base_model, epochs=_local_count("--epochs", args.epochs),
        batch_size=_local_count("--batch-size", args.batch_size), max_steps=args.max_steps,
        gradient_accumulation_steps=args.gradient_accumulation_steps, learning_rate=args.learning_rate,
        lora_r=args.lora_r, lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout,
        lora_target_modules=args.lora_target_modules, quantization=args.quantization,
        gradient_checkpointing=args.gradient_checkpointing, max_length=args.max_length,
        over_length=args.over_length, seed=args.seed, merge=args.merge)


def _train_local(args: argparse.Namespace) -> int:
    """The LoRA backend, like the API's: a dry run unless --submit. The resolved recipe first, then the plan
    and its figures (tokens with the model's own template, steps, a memory estimate); a plan that would train
    on nothing somewhere is refused (exit 2). The dry run writes nothing: no job row, no output folder.
    --submit trains (or resumes the same job from its last checkpoint)."""
    import json

    from .local import plan_recipe, train_local
    from .local_plan import inspect_plan, require_trainable

    recipe = local_recipe(args)
    plan = plan_recipe(recipe, exports=args.exports, output_dir=args.output_dir)
    resolved = plan.resolved_recipe()
    log.debug("resolved recipe: %s", json.dumps(resolved, sort_keys=True))
    print("recipe (resolved; stored with the job as finetune.jobs.recipe_json):")
    print("  " + json.dumps(resolved, sort_keys=True))
    print(plan.describe())
    report = inspect_plan(plan, preview=args.preview or 0)
    print(report.format())
    require_trainable(report)
    if not args.submit:
        print("dry run: no job was created and nothing was written. With --submit (make train BACKEND=local "
              "... SUBMIT=1) it trains, or resumes the same job from its last checkpoint.")
        return 0
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
    if result.servers:
        print(f"local model(s) served for this run on 127.0.0.1, then stopped: {', '.join(result.servers)}")
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
    from .recipes import DEFAULT_RECIPES, OVER_LENGTH, QUANTIZATIONS

    train = _subcommand(commands, name, "plan a fine-tuning job (dry run) or submit it with --submit; "
                        "--backend local: LoRA on a local model folder, from a recipe")
    train.add_argument("--backend", choices=["openai", "local"], default="openai",
                       help="openai (default): a fine-tuning API; local: LoRA with transformers + peft")
    train.add_argument("--dataset", help="the exported dataset (required, but for --backend local a recipe may name it)")
    train.add_argument("--exports", type=Path, default=DEFAULT_EXPORTS)
    train.add_argument("--model", help="default: the model table's default (gpt-4o-mini-2024-07-18)")
    train.add_argument("--epochs", help="a number or auto (default; local: the recipe's, else 3)")
    train.add_argument("--batch-size", help="a number or auto (default; local: the recipe's, else 4 per device)")
    train.add_argument("--lr-multiplier", default="auto")
    train.add_argument("--suffix")
    train.add_argument("--seed", type=int, help=f"default {DEFAULT_SEED} (local: the recipe's)")
    train.add_argument("--submit", action="store_true",
                       help="upload and create the job, or train locally (otherwise a dry run)")
    train.add_argument("--no-watch", action="store_true", help="return after submitting")
    _service_option(train)
    _poll_option(train)
    local = train.add_argument_group(
        "--backend local (LoRA on a local model folder; nothing is downloaded). Each flag overrides the recipe's "
        "value; without a recipe, the defaults shown")
    local.add_argument("--recipe", type=Path, metavar="FILE",
                       help=f"a recipe ({DEFAULT_RECIPES}/*.yml): dataset, base model and every setting below")
    local.add_argument("--base-model", type=Path, help="local model folder (config.json, weights, tokenizer)")
    local.add_argument("--lora-r", type=int, help="LoRA rank (default 8)")
    local.add_argument("--lora-alpha", type=int, help="LoRA alpha (default 16)")
    local.add_argument("--lora-dropout", type=float, help="LoRA dropout (default 0.05)")
    local.add_argument("--lora-target-modules", metavar="NAMES",
                       help="all-linear (default) or module names, comma-separated (q_proj,v_proj)")
    local.add_argument("--learning-rate", type=float, help="default 2e-4")
    local.add_argument("--gradient-accumulation-steps", type=int, metavar="N",
                       help="one optimizer step every N batches (default 1)")
    local.add_argument("--gradient-checkpointing", action=argparse.BooleanOptionalAction, default=None,
                       help="recompute activations in the backward pass: less memory, slower (default off)")
    local.add_argument("--quantization", choices=QUANTIZATIONS,
                       help="4bit/8bit: QLoRA through bitsandbytes, CUDA only (default none)")
    local.add_argument("--max-length", type=int, help="tokens per example (default 2048)")
    local.add_argument("--over-length", choices=OVER_LENGTH,
                       help="an example longer than --max-length: truncate (default; its first tokens) or drop")
    local.add_argument("--max-steps", type=int,
                       help="stop after this many optimizer steps in all (a checkpoint is saved; rerun to resume)")
    local.add_argument("--output-dir", type=Path, help="default data/finetune/local/<job>")
    local.add_argument("--merge", action=argparse.BooleanOptionalAction, default=None,
                       help="also write the merged model to <output-dir>/merged (default off)")
    local.add_argument("--preview", type=int, metavar="N",
                       help="print the first N training examples as rendered, the trained tokens between ⟦ ⟧")
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
                            help='e.g. "reference identity base=gpt-4o-mini-2024-07-18 ft=ft:… job:ftjob-…", or local '
                            'models, which evaluate serves itself for the run: "base=<model folder> '
                            'tuned=local:<local job id>"')
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
