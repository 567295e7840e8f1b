"""What a fine-tuning submission would do, worked out without touching the service: the dry run.

The plan reads a dataset's export (`data/exports/<dataset>/train.jsonl` and `validation.jsonl`), runs the
export's data check on both files (format errors, too few examples, tokens, cost), resolves the model and
hyperparameters, and fingerprints the job: `dataset_hash` over the exact bytes to upload and
`params_hash` over the model, method and hyperparameters, suffix and seed. The two travel in the job's
metadata, which is how a later submission finds and reuses the job instead of paying for it twice.

On OpenAI's own API (the default endpoint), the description ends with the fine-tuning wind-down's timeline and the
days left (`finetune.wind_down`); never on Azure OpenAI, which has its own schedule, or another base_url.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from exporters import CheckResult, check_file, get_model
from exporters.errors import UnknownModelError

from .client import Service
from .errors import PlanError
from .wind_down import shows_timeline, timeline_lines

__all__ = ["Hyperparameters", "TrainingPlan", "plan_training", "derive_fraction", "positive_or_auto", "file_sha256",
           "dataset_hash"]

DEFAULT_EXPORTS = Path("data/exports")
DEFAULT_SEED = 42


def positive_or_auto(name: str, raw, kind: type) -> int | float | str:
    """`raw` as a positive `kind`, or "auto" when it is None or "auto"; PlanError naming `name` otherwise."""
    if raw is None or str(raw).strip().lower() == "auto":
        return "auto"
    try:
        number = kind(raw)
    except (TypeError, ValueError):
        raise PlanError(f"{name} must be a number or auto, not {raw!r}") from None
    if number <= 0:
        raise PlanError(f"{name} must be positive, not {raw!r}")
    return number


@dataclass(frozen=True)
class Hyperparameters:
    """The supervised method's hyperparameters: an int/float, or "auto" for the service's choice."""

    n_epochs: int | str = "auto"
    batch_size: int | str = "auto"
    learning_rate_multiplier: float | str = "auto"

    @staticmethod
    def parse(n_epochs: str | int | None, batch_size: str | int | None, learning_rate_multiplier: str | float | None
              ) -> "Hyperparameters":
        return Hyperparameters(positive_or_auto("epochs", n_epochs, int),
                               positive_or_auto("batch size", batch_size, int),
                               positive_or_auto("learning rate multiplier", learning_rate_multiplier, float))

    def as_dict(self) -> dict[str, int | float | str]:
        return {"n_epochs": self.n_epochs, "batch_size": self.batch_size,
                "learning_rate_multiplier": self.learning_rate_multiplier}


@dataclass
class TrainingPlan:
    dataset: str
    experiment: str | None
    train_path: Path
    validation_path: Path | None
    model: str
    hyperparameters: Hyperparameters
    suffix: str | None
    seed: int
    train_check: CheckResult
    validation_check: CheckResult | None
    dataset_hash: str
    params_hash: str
    service: Service
    problems: list[str] = field(default_factory=list)

    @property
    def epochs_for_estimate(self) -> int:
        epochs = self.hyperparameters.n_epochs
        return epochs if isinstance(epochs, int) else self.train_check.n_epochs

    @property
    def billing_tokens(self) -> int:
        check = self.train_check
        per_epoch = check.billing_tokens / check.n_epochs if check.n_epochs else 0
        return round(per_epoch * self.epochs_for_estimate)

    @property
    def estimated_cost_usd(self) -> float:
        return self.billing_tokens * self.train_check.model.usd_per_1m_training_tokens / 1_000_000

    def metadata(self) -> dict[str, str]:
        """The job's metadata: how a later run recognises this exact job (values ≤ 512 chars)."""
        metadata = {"pinoloft_dataset": self.dataset, "pinoloft_data": self.dataset_hash,
                    "pinoloft_params": self.params_hash}
        if self.experiment:
            metadata["pinoloft_experiment"] = self.experiment
        return metadata

    def method(self) -> dict:
        return {"type": "supervised", "supervised": {"hyperparameters": self.hyperparameters.as_dict()}}

    def describe(self, today: date | None = None) -> str:
        """What the job would be; on OpenAI's own API, the wind-down's timeline counted from `today` (the
        clock's date by default)."""
        check = self.train_check
        epochs = self.hyperparameters.n_epochs
        epochs_text = f"{epochs}" if isinstance(epochs, int) else f"auto (estimate uses {check.n_epochs})"
        lines = [
            f"dataset {self.dataset}" + (f", experiment {self.experiment}" if self.experiment else ""),
            f"  training file:   {self.train_path} ({check.n_valid} valid of {check.n_examples} examples, "
            f"{_size(self.train_path)})",
        ]
        if self.validation_path is not None and self.validation_check is not None:
            lines.append(f"  validation file: {self.validation_path} ({self.validation_check.n_valid} valid of "
                         f"{self.validation_check.n_examples} examples, {_size(self.validation_path)})")
        else:
            lines.append("  validation file: none")
        lines += [
            f"  model: {self.model}; method supervised: n_epochs {epochs_text}, batch_size "
            f"{self.hyperparameters.batch_size}, learning_rate_multiplier {self.hyperparameters.learning_rate_multiplier}"
            f"; suffix {self.suffix or '(none)'}; seed {self.seed}",
            f"  estimate: {self.billing_tokens:,} billed training tokens, about ${self.estimated_cost_usd:,.2f} at "
            f"${check.model.usd_per_1m_training_tokens:.2f} per 1M ({check.encoding})",
            f"  data check: {check.n_format_errors} format error(s)"
            + "".join(f"; {warning}" for warning in check.warnings()),
            f"  service: {self.service.describe()}",
            f"  job fingerprint: data {self.dataset_hash[:16]}…, params {self.params_hash[:16]}… (a job with the same "
            "metadata is reused, not created again)",
        ]
        if shows_timeline(self.service.provider, self.service.endpoint):
            lines += timeline_lines(today or date.today())
        if self.problems:
            lines.append("  cannot submit: " + "; ".join(self.problems))
        return "\n".join(lines)

    def steps(self) -> list[str]:
        """What a submission does, in order."""
        files = "train" + (" and validation" if self.validation_path else "")
        return [
            f"look for a job at {self.service.endpoint} with metadata pinoloft_data={self.dataset_hash[:16]}… and "
            f"pinoloft_params={self.params_hash[:16]}…; if one is queued, running or succeeded, reuse it",
            f"upload the {files} file(s) with purpose fine-tune (or reuse uploads with the same bytes) and wait until "
            "they are processed",
            f"create one supervised fine-tuning job on {self.model} (never retried blindly: after a failed request "
            "it looks the job up by its metadata before trying again)",
            "watch it: events, metrics, checkpoints and the result file into the warehouse's finetune schema, "
            "the final model into finetune.models, loss curves to data/finetune/plots/<job>.png",
        ]


def _size(path: Path) -> str:
    return f"{path.stat().st_size:,} bytes"


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def dataset_hash(train: Path, validation: Path | None) -> str:
    """The fingerprint of the exact training and validation bytes a job trains on."""
    data = hashlib.sha256()
    for path in (train, validation):
        data.update((file_sha256(path) if path else "-").encode())
    return data.hexdigest()


def derive_fraction(source: Path, target: Path, fraction: float, seed: int) -> int:
    """Write `fraction` of `source`'s examples (a seeded draw, kept in file order) to `target`; the count."""
    if not 0 < fraction <= 1:
        raise PlanError(f"fraction must be in (0, 1], not {fraction}")
    lines = source.read_bytes().splitlines(keepends=True)
    keep = max(1, round(len(lines) * fraction))
    chosen = sorted(random.Random(seed).sample(range(len(lines)), keep))
    target.parent.mkdir(parents=True, exist_ok=True)
    content = b"".join(lines[index] if lines[index].endswith(b"\n") else lines[index] + b"\n" for index in chosen)
    target.write_bytes(content)
    return keep


def plan_training(
    dataset: str,
    service: Service,
    *,
    exports: Path = DEFAULT_EXPORTS,
    model: str | None = None,
    hyperparameters: Hyperparameters = Hyperparameters(),
    suffix: str | None = None,
    seed: int = DEFAULT_SEED,
    experiment: str | None = None,
    train_path: Path | None = None,
    quiet: bool = True,
) -> TrainingPlan:
    """The plan for training on `dataset`'s export (or on `train_path`, e.g. an experiment's subset)."""
    export_dir = Path(exports) / dataset
    default_train = export_dir / "train.jsonl"
    train = Path(train_path) if train_path else default_train
    if not train.is_file():
        raise PlanError(f"no training file {train}: export the dataset first (make export DATASET={dataset})")
    validation = export_dir / "validation.jsonl"
    try:
        spec = get_model(model)
    except UnknownModelError as error:
        raise PlanError(str(error)) from None
    if suffix is not None and (len(suffix) > 64 or not suffix.replace("-", "").replace("_", "").isalnum()):
        raise PlanError(f"suffix {suffix!r}: use at most 64 letters, digits, '-' and '_'")
    train_check = check_file(train, spec, quiet=quiet)
    validation_check = None
    if validation.is_file() and validation.stat().st_size > 0:
        validation_check = check_file(validation, spec, quiet=quiet)
    else:
        validation = None
    params = {"model": spec.name, "method": "supervised", "hyperparameters": hyperparameters.as_dict(),
              "suffix": suffix, "seed": seed}
    params_hash = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()
    problems = []
    for label, check in (("training", train_check), ("validation", validation_check)):
        if check is None:
            continue
        if check.n_format_errors:
            problems.append(f"{check.n_format_errors} format error(s) in the {label} file")
        if label == "training" and check.too_few_examples:
            problems.append(f"only {check.n_valid} valid training example(s); at least 10 are needed")
    if not service.has_key:
        problems.append(f"no API key ({service.key_source} is not set)")
    return TrainingPlan(dataset, experiment, train, validation, spec.name, hyperparameters, suffix, seed,
                        train_check, validation_check, dataset_hash(train, validation), params_hash, service, problems)
