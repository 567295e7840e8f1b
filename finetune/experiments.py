"""Experiments as config: `finetune/experiments/<name>.yml`, one fine-tuning job each, compared in a table.

Keys: `dataset` (required), `fraction` (of the training examples, a seeded draw; default 1), `model`,
`epochs`, `batch_size`, `learning_rate_multiplier` (numbers or auto), `seed`, `suffix` (default: the name).
A fraction below 1 writes its training file to `data/finetune/experiments/<name>/train.jsonl`; the
validation file is the dataset's own, so every experiment of a dataset is measured on the same examples.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml

from .client import Service
from .errors import ExperimentError, PlanError
from .jobs import submit
from .plan import DEFAULT_EXPORTS, DEFAULT_SEED, Hyperparameters, TrainingPlan, derive_fraction, plan_training
from .store import Store, now_utc

__all__ = ["Experiment", "load_experiments", "plan_experiment", "plan_experiments", "record_experiment",
           "submit_experiment", "compare_rows", "COMPARE_COLUMNS", "DEFAULT_EXPERIMENTS"]

DEFAULT_EXPERIMENTS = Path("finetune/experiments")
DEFAULT_WORK = Path("data/finetune/experiments")
_KEYS = {"dataset", "fraction", "model", "epochs", "batch_size", "learning_rate_multiplier", "seed", "suffix",
         "description"}


@dataclass(frozen=True)
class Experiment:
    name: str
    path: Path
    dataset: str
    fraction: float
    model: str | None
    hyperparameters: Hyperparameters
    seed: int
    suffix: str
    config_hash: str


def load_experiments(directory: Path = DEFAULT_EXPERIMENTS, names: list[str] | None = None) -> list[Experiment]:
    """Every `*.yml` in `directory` (or only `names`), sorted by name; ExperimentError names the bad file."""
    paths = sorted(Path(directory).glob("*.yml"))
    if names:
        wanted = set(names)
        missing = wanted - {path.stem for path in paths}
        if missing:
            raise ExperimentError(f"no experiment {', '.join(sorted(missing))} in {directory}")
        paths = [path for path in paths if path.stem in wanted]
    if not paths:
        raise ExperimentError(f"no experiment configs (*.yml) in {directory}")
    return [_load(path) for path in paths]


def _load(path: Path) -> Experiment:
    text = path.read_bytes()
    try:
        config = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise ExperimentError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(config, dict):
        raise ExperimentError(f"{path}: expected a mapping of {', '.join(sorted(_KEYS))}")
    unknown = set(config) - _KEYS
    if unknown:
        raise ExperimentError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(_KEYS))}")
    if not config.get("dataset"):
        raise ExperimentError(f"{path}: dataset is required")
    try:
        fraction = float(config.get("fraction", 1.0))
        seed = int(config.get("seed", DEFAULT_SEED))
        hyperparameters = Hyperparameters.parse(config.get("epochs"), config.get("batch_size"),
                                                config.get("learning_rate_multiplier"))
    except (TypeError, ValueError, PlanError) as error:
        raise ExperimentError(f"{path}: {error}") from None
    if not 0 < fraction <= 1:
        raise ExperimentError(f"{path}: fraction must be in (0, 1], not {fraction}")
    return Experiment(path.stem, path, str(config["dataset"]), fraction, config.get("model"), hyperparameters, seed,
                      str(config.get("suffix") or path.stem)[:64], hashlib.sha256(text).hexdigest())


def plan_experiment(experiment: Experiment, service: Service, *, exports: Path = DEFAULT_EXPORTS,
                    work: Path = DEFAULT_WORK, quiet: bool = True) -> TrainingPlan:
    train = Path(exports) / experiment.dataset / "train.jsonl"
    if experiment.fraction < 1:
        if not train.is_file():
            raise PlanError(f"{experiment.path}: no training file {train}: make export DATASET={experiment.dataset}")
        subset = Path(work) / experiment.name / "train.jsonl"
        derive_fraction(train, subset, experiment.fraction, experiment.seed)
        train = subset
    try:
        return plan_training(experiment.dataset, service, exports=exports, model=experiment.model,
                             hyperparameters=experiment.hyperparameters, suffix=experiment.suffix,
                             seed=experiment.seed, experiment=experiment.name, train_path=train, quiet=quiet)
    except PlanError as error:
        raise PlanError(f"experiment {experiment.name} ({experiment.path}): {error}") from None


def plan_experiments(service: Service, directory: Path = DEFAULT_EXPERIMENTS, names: list[str] | None = None, *,
                     exports: Path = DEFAULT_EXPORTS, quiet: bool = True) -> list[tuple[Experiment, TrainingPlan]]:
    """Every experiment config of `directory` (or only `names`) with its plan (a dry run: nothing is sent)."""
    return [(experiment, plan_experiment(experiment, service, exports=exports, quiet=quiet))
            for experiment in load_experiments(directory, names)]


def submit_experiment(store: Store, experiment: Experiment, plan: TrainingPlan, *, poll_s: float = 2.0
                      ) -> tuple[str, bool]:
    """Submit the experiment's plan (a job with the same data and parameters is reused) and record the
    experiment with its job; (job id, reused an existing job)."""
    job_id, reused = submit(plan, store, poll_s=poll_s)
    record_experiment(store, experiment, plan, job_id)
    return job_id, reused


def record_experiment(store: Store, experiment: Experiment, plan: TrainingPlan, job_id: str | None) -> None:
    hyper = experiment.hyperparameters
    with store.transaction() as con:
        Store.upsert(con, "experiments", {
            "experiment": experiment.name, "config_path": str(experiment.path), "config_hash": experiment.config_hash,
            "dataset_name": experiment.dataset, "fraction": experiment.fraction, "model": plan.model,
            "n_epochs": str(hyper.n_epochs), "batch_size": str(hyper.batch_size),
            "learning_rate_multiplier": str(hyper.learning_rate_multiplier), "seed": experiment.seed,
            "suffix": experiment.suffix, "training_examples": plan.train_check.n_valid,
            "dataset_hash": plan.dataset_hash, "job_id": job_id, "submitted_at": now_utc() if job_id else None,
        })


COMPARE_COLUMNS = ("experiment", "dataset", "fraction", "examples", "model", "epochs", "job", "status",
                   "trained tokens", "train loss", "valid loss", "valid token acc", "fine-tuned model")


def compare_rows(store: Store) -> list[tuple]:
    """One row per experiment: its job's status and the last step's losses (result file, else metrics)."""
    return store.query("""
        WITH last_result AS (
            SELECT job_id, arg_max(train_loss, step) AS train_loss, arg_max(valid_loss, step) AS valid_loss,
                   arg_max(valid_mean_token_accuracy, step) AS valid_acc
            FROM finetune.job_results WHERE valid_loss IS NOT NULL OR train_loss IS NOT NULL GROUP BY job_id
        ),
        last_metric AS (
            SELECT job_id, arg_max(train_loss, step) AS train_loss,
                   arg_max(valid_loss, step) FILTER (WHERE valid_loss IS NOT NULL) AS valid_loss,
                   arg_max(valid_mean_token_accuracy, step) FILTER (WHERE valid_mean_token_accuracy IS NOT NULL)
                       AS valid_acc
            FROM finetune.job_metrics GROUP BY job_id
        )
        SELECT e.experiment, e.dataset_name, e.fraction, e.training_examples, e.model, coalesce(j.n_epochs, e.n_epochs),
               e.job_id, coalesce(j.status, 'not submitted'), j.trained_tokens,
               round(coalesce(r.train_loss, m.train_loss), 4), round(coalesce(r.valid_loss, m.valid_loss), 4),
               round(coalesce(r.valid_acc, m.valid_acc), 4), j.fine_tuned_model
        FROM finetune.experiments e
        LEFT JOIN finetune.jobs j USING (job_id)
        LEFT JOIN last_result r USING (job_id)
        LEFT JOIN last_metric m USING (job_id)
        ORDER BY e.experiment
    """)
