"""The open-weights backend: supervised fine-tuning with LoRA on a local model folder (TRL + peft).

It trains on the same export as the OpenAI backend (`data/exports/<dataset>/train.jsonl`, evaluated on
`validation.jsonl` at the end of every epoch) with TRL's `SFTTrainer` on prompt-completion conversational data:
the prompt is the system and user turns, the completion the assistant turn, both rendered with the model's own
chat template, and the loss covers the completion only. Examples longer than `max_length` are cut to it or left
out (`over_length`). Memory savers: gradient accumulation, gradient checkpointing, and 4bit/8bit quantised LoRA
(QLoRA, bitsandbytes; CUDA only). A checkpoint is saved at the end of every epoch (and when `max_steps` stops a
run early), and a rerun of the same job resumes from the last one.

Everything lands in the warehouse tables the OpenAI backend writes (`finetune.jobs`, `job_metrics`,
`job_checkpoints`, `job_results`, `models`, endpoint `local`), so `plot`, `compare` and `evaluate` work
unchanged. The job id is `local-<12 hex>` over the dataset hash, the base model and the hyperparameters.

Nothing is downloaded: every load uses `local_files_only=True`, the process runs with `HF_HUB_OFFLINE=1` and
`HF_DATASETS_OFFLINE=1`, and the examples reach `datasets` from memory (`Dataset.from_list`). torch,
transformers, peft, trl and datasets (the `local` extra) are imported inside the functions here, never by the
core.
Multi-GPU: `accelerate launch -m finetune train --backend local … --submit`; SFTTrainer (a transformers
Trainer) does the rest, each process holding its own copy of the model (quantised on its own GPU), and only
the main process writes to the warehouse and the output folder's adapter/ and merged/.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import LocalModelError, PlanError
from .plan import dataset_hash, positive_or_auto
from .recipes import ALL_LINEAR, Recipe
from .store import Store, now_utc

__all__ = ["LocalPlan", "LocalResult", "plan_local", "plan_recipe", "train_local", "build_trainer", "prepare_data",
           "TrainingData", "require_quantization_support", "load_base", "require_model_dir", "offline", "ENDPOINT",
           "MARKER"]

log = logging.getLogger(__name__)

ENDPOINT = "local"
MARKER = "pinoloft.json"  # written into every adapter, checkpoint and merged folder: the served name and the job
DEFAULT_OUTPUT = Path("data/finetune/local")
DEFAULT_EPOCHS = 3
DEFAULT_BATCH_SIZE = 4
DEFAULT_LEARNING_RATE = 2e-4
IGNORE = -100  # the label of a token the loss skips (the prompt's, the padding's), as TRL sets it


def offline() -> None:
    """No model hub at run time, whatever the caller's environment says."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    # the hub client and datasets read those once, when imported: if something imported them before this call,
    # tell them too (TRL's usage ping and every hub request check these flags)
    import sys

    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = True
        constants.HF_HUB_DISABLE_TELEMETRY = True
    config = sys.modules.get("datasets.config")
    if config is not None:
        config.HF_HUB_OFFLINE = config.HF_DATASETS_OFFLINE = True
    _hide_datasets_folder()


def _hide_datasets_folder() -> None:
    """The repository's `datasets/` folder (dataset configs) is importable as a namespace package from the
    repository root, and transformers would take it for Hugging Face `datasets`; unless that library really is
    installed (an installed package always wins over a namespace folder), mark the name as absent so
    transformers' checks find nothing and training says the 'local' extra's `datasets` is missing."""
    import importlib.util
    import sys

    if sys.modules.get("datasets", False) is None:
        return
    try:
        spec = importlib.util.find_spec("datasets")
    except (ImportError, ValueError):
        return
    if spec is not None and spec.origin in (None, "namespace") and "datasets" not in sys.modules:
        sys.modules["datasets"] = None  # type: ignore[assignment]


def _main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def require_model_dir(path: str | Path, what: str = "base model") -> Path:
    """`path` as a local model folder with a config.json, or LocalModelError naming what is expected."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise LocalModelError(f"{what} {folder}: no such directory. Give a local model folder (config.json, weights "
                              "and tokenizer files, e.g. one saved with save_pretrained); nothing is downloaded")
    if not (folder / "config.json").is_file() and not (folder / "adapter_config.json").is_file():
        raise LocalModelError(f"{what} {folder}: {folder / 'config.json'} is missing (not a transformers model "
                              "folder); nothing is downloaded")
    return folder.resolve()


def _imports(training: bool = False):
    """The local extra's libraries, or LocalModelError naming the missing one (training also needs trl and
    datasets; serving does not)."""
    offline()
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
        import peft  # noqa: F401

        if training:
            import datasets  # noqa: F401
            import trl  # noqa: F401
    except ImportError as error:
        raise LocalModelError(f"the local backend needs the 'local' extra ({error.name} is missing): "
                              "pip install -e '.[local]' (make setup installs it)") from None


def load_tokenizer(folder: Path):
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError) as error:
        raise LocalModelError(f"{folder}: cannot load the tokenizer ({error})") from None
    if not getattr(tokenizer, "chat_template", None):
        raise LocalModelError(f"{folder}: the tokenizer has no chat_template (tokenizer_config.json or "
                              "chat_template.jinja); an instruct/chat model is needed")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_base(folder: Path, *, for_training: bool = False, quantization: str = "none"):
    """The base causal LM from a local folder (float32 on CPU, bfloat16 on a GPU that supports it); quantization
    4bit (NF4, double-quantised, QLoRA's settings) or 8bit loads it through bitsandbytes onto this process's GPU
    (see `require_quantization_support`)."""
    import torch
    from transformers import AutoModelForCausalLM

    dtype = torch.float32
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        dtype = torch.bfloat16
    options: dict[str, Any] = {"dtype": dtype}
    if quantization != "none":
        from transformers import BitsAndBytesConfig

        compute = dtype if dtype != torch.float32 else torch.float16
        options["dtype"] = compute
        options["quantization_config"] = (
            BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                               bnb_4bit_compute_dtype=compute) if quantization == "4bit"
            else BitsAndBytesConfig(load_in_8bit=True))
        # each process of `accelerate launch` holds its own quantised copy on its own GPU
        options["device_map"] = {"": int(os.environ.get("LOCAL_RANK", "0"))}
    try:
        model = AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True, **options)
    except (OSError, ValueError) as error:
        raise LocalModelError(f"{folder}: cannot load the model ({error})") from None
    if for_training:
        model.config.use_cache = False
    return model


# -- plan ----------------------------------------------------------------------------------------------------


@dataclass
class LocalPlan:
    dataset: str
    train_path: Path
    validation_path: Path | None
    base_model: Path
    epochs: int
    batch_size: int
    learning_rate: float
    lora_r: int
    lora_alpha: int
    lora_dropout: float
    max_length: int | None
    seed: int
    dataset_hash: str
    params_hash: str
    job_id: str
    output_dir: Path
    max_steps: int | None = None
    merge: bool = False
    experiment: str | None = None
    # memory savers and the data rules of a recipe (finetune/recipes/*.yml)
    gradient_accumulation_steps: int = 1
    gradient_checkpointing: bool = False
    quantization: str = "none"  # none | 4bit | 8bit (bitsandbytes, CUDA only)
    lora_target_modules: str | list[str] = "all-linear"
    over_length: str = "truncate"  # drop | truncate: what happens to an example longer than max_length
    recipe: Path | None = None  # the recipe file the settings came from (None: flags and defaults)

    @property
    def final_name(self) -> str:
        """What the served endpoint calls the final model (finetune.models, kind final)."""
        return self.job_id

    def checkpoint_name(self, step: int) -> str:
        return f"{self.job_id}:ckpt-step-{step}"

    def params(self) -> dict[str, Any]:
        """What defines the job, hashed into its id: every setting of the recipe but `max_steps` (where a run
        stops: the rerun without it must find and resume the same job) and `merge` (an extra output written at
        the end), which are stored with the job all the same (`resolved_recipe`)."""
        targets = self.lora_target_modules
        return {"backend": ENDPOINT, "base_model": str(self.base_model), "method": "supervised-lora",
                "epochs": self.epochs, "batch_size": self.batch_size,
                "gradient_accumulation_steps": self.gradient_accumulation_steps, "learning_rate": self.learning_rate,
                "lora_r": self.lora_r, "lora_alpha": self.lora_alpha, "lora_dropout": self.lora_dropout,
                "lora_target_modules": targets if isinstance(targets, str) else list(targets),
                "quantization": self.quantization, "gradient_checkpointing": self.gradient_checkpointing,
                "max_length": self.max_length, "over_length": self.over_length, "seed": self.seed}

    def resolved_recipe(self) -> dict[str, Any]:
        """Every setting the job runs with, in a recipe's shape (and keys): logged before the plan, stored in
        finetune.jobs.recipe_json. Written back as YAML it reproduces the job."""
        targets = self.lora_target_modules
        return {"dataset": self.dataset, "base_model": str(self.base_model), "epochs": self.epochs,
                "max_steps": self.max_steps, "batch_size": self.batch_size,
                "gradient_accumulation_steps": self.gradient_accumulation_steps, "learning_rate": self.learning_rate,
                "lora": {"r": self.lora_r, "alpha": self.lora_alpha, "dropout": self.lora_dropout,
                         "target_modules": targets if isinstance(targets, str) else list(targets)},
                "quantization": self.quantization, "gradient_checkpointing": self.gradient_checkpointing,
                "max_length": self.max_length, "over_length": self.over_length, "seed": self.seed,
                "merge": self.merge, "recipe": str(self.recipe) if self.recipe else None}

    def recipe_json(self) -> str:
        return json.dumps(self.resolved_recipe(), sort_keys=True)

    def describe(self) -> str:
        targets = self.lora_target_modules
        effective = self.batch_size * self.gradient_accumulation_steps
        lines = [
            f"dataset {self.dataset}: local LoRA fine-tuning, job {self.job_id}"
            + (f" (recipe {self.recipe})" if self.recipe else ""),
            f"  training file:   {self.train_path}",
            f"  validation file: {self.validation_path or 'none'}",
            f"  base model: {self.base_model} (local files only; nothing is downloaded)",
            f"  LoRA r {self.lora_r}, alpha {self.lora_alpha}, dropout {self.lora_dropout} on "
            f"{targets if isinstance(targets, str) else ', '.join(targets)}; quantization {self.quantization}"
            f"{', gradient checkpointing' if self.gradient_checkpointing else ''}",
            f"  epochs {self.epochs}, batch size {self.batch_size} per device × {self.gradient_accumulation_steps} "
            f"accumulated = {effective} per optimizer step, learning rate {self.learning_rate:g}, seed {self.seed}"
            + (f"; stops after step {self.max_steps} (rerun to resume)" if self.max_steps else ""),
            f"  max length {self.max_length or 'none'} tokens; longer examples: {self.over_length}",
            f"  output: {self.output_dir} (checkpoint-<step>/ per epoch, adapter/"
            + (", merged/" if self.merge else "") + "); served name " + self.final_name,
        ]
        return "\n".join(lines)


def plan_recipe(recipe: Recipe, *, exports: Path = Path("data/exports"), output_dir: Path | None = None,
                experiment: str | None = None) -> LocalPlan:
    """The job `recipe` describes (a loaded recipe file, with any flags applied by `Recipe.override`): paths,
    settings and the job id; checks what is on disk (the export, the model folder) and writes nothing."""
    if not recipe.dataset:
        raise PlanError("no dataset: give --dataset NAME (make train DATASET=NAME) or `dataset:` in the recipe")
    if recipe.base_model is None:
        raise PlanError("no base model: give --base-model DIR (make train BASE_MODEL=DIR) or `base_model:` in the "
                        "recipe (a local model folder; nothing is downloaded)")
    export_dir = Path(exports) / recipe.dataset
    train = export_dir / "train.jsonl"
    if not train.is_file():
        raise PlanError(f"no training file {train}: export the dataset first (make export DATASET={recipe.dataset})")
    validation: Path | None = export_dir / "validation.jsonl"
    if not validation.is_file() or validation.stat().st_size == 0:
        validation = None
    base = require_model_dir(recipe.base_model)
    lora = recipe.lora
    targets = lora.target_modules
    plan = LocalPlan(recipe.dataset, train, validation, base, recipe.epochs, recipe.batch_size, recipe.learning_rate,
                     lora.r, lora.alpha, lora.dropout, recipe.max_length, recipe.seed, dataset_hash(train, validation),
                     "", "", Path(), recipe.max_steps, recipe.merge, experiment,
                     gradient_accumulation_steps=recipe.gradient_accumulation_steps,
                     gradient_checkpointing=recipe.gradient_checkpointing, quantization=recipe.quantization,
                     lora_target_modules=targets if targets == ALL_LINEAR else list(targets),
                     over_length=recipe.over_length, recipe=recipe.path)
    plan.params_hash = hashlib.sha256(json.dumps(plan.params(), sort_keys=True).encode()).hexdigest()
    plan.job_id = "local-" + hashlib.sha256(f"{plan.dataset_hash}:{plan.params_hash}".encode()).hexdigest()[:12]
    plan.output_dir = Path(output_dir) if output_dir else DEFAULT_OUTPUT / plan.job_id
    return plan


def plan_local(dataset: str, base_model: str | Path, *, exports: Path = Path("data/exports"),
               epochs: int | str | None = None, batch_size: int | str | None = None,
               learning_rate: float | None = None, lora_r: int = 8, lora_alpha: int = 16, lora_dropout: float = 0.05,
               max_length: int | None = 2048, seed: int = 42, max_steps: int | None = None,
               output_dir: Path | None = None, merge: bool = False, experiment: str | None = None,
               gradient_accumulation_steps: int = 1, gradient_checkpointing: bool = False,
               quantization: str = "none", lora_target_modules: str | list[str] = "all-linear",
               over_length: str = "truncate") -> LocalPlan:
    """The job for `dataset` on `base_model` from keyword settings (what a recipe holds; None or "auto" for
    epochs, batch size and learning rate: the defaults); see `plan_recipe`."""
    def number(name, raw, kind, default):
        value = positive_or_auto(name, raw, kind)
        return default if value == "auto" else value

    recipe = Recipe(max_length=None).override(
        max_length=max_length, dataset=dataset, base_model=base_model, epochs=number("epochs", epochs, int, DEFAULT_EPOCHS),
        batch_size=number("batch size", batch_size, int, DEFAULT_BATCH_SIZE),
        learning_rate=number("learning rate", learning_rate, float, DEFAULT_LEARNING_RATE), lora_r=lora_r,
        lora_alpha=lora_alpha, lora_dropout=lora_dropout, lora_target_modules=lora_target_modules, seed=seed,
        max_steps=max_steps, merge=merge, gradient_accumulation_steps=gradient_accumulation_steps,
        gradient_checkpointing=gradient_checkpointing, quantization=quantization, over_length=over_length)
    return plan_recipe(recipe, exports=exports, output_dir=output_dir, experiment=experiment)


# -- warehouse -----------------------------------------------------------------------------------------------


def _record_job(store: Store, plan: LocalPlan, status: str, **extra: Any) -> None:
    with store.transaction() as con:
        previous = con.execute("SELECT created_at FROM finetune.jobs WHERE job_id = ?", [plan.job_id]).fetchall()
        Store.upsert(con, "jobs", {
            "job_id": plan.job_id, "endpoint": ENDPOINT, "dataset_name": plan.dataset, "experiment": plan.experiment,
            "dataset_hash": plan.dataset_hash, "params_hash": plan.params_hash, "model": str(plan.base_model),
            "suffix": None, "seed": plan.seed, "n_epochs": str(plan.epochs), "batch_size": str(plan.batch_size),
            "learning_rate_multiplier": f"{plan.learning_rate:g}", "training_file": str(plan.train_path),
            "validation_file": str(plan.validation_path) if plan.validation_path else None, "status": status,
            "fine_tuned_model": extra.get("fine_tuned_model"), "trained_tokens": extra.get("trained_tokens"),
            "error_code": extra.get("error_code"), "error_message": extra.get("error_message"), "error_param": None,
            "created_at": previous[0][0] if previous else now_utc(), "finished_at": extra.get("finished_at"),
            "estimated_finish": None, "result_files": extra.get("result_files", []), "updated_at": now_utc(),
            "recipe_json": plan.recipe_json(),
        })
        snapshot = json.dumps({"status": status, "params": plan.params(), **{k: str(v) for k, v in extra.items()}},
                              sort_keys=True)
        con.execute("INSERT INTO finetune.job_snapshots VALUES (?, ?, ?, ?)", [plan.job_id, now_utc(), status, snapshot])


_METRIC_COLUMNS = ("total_steps", "train_loss", "train_mean_token_accuracy", "valid_loss", "valid_mean_token_accuracy")


def _record_metrics(store: Store, job_id: str, step: int, values: dict[str, Any]) -> None:
    """Merge `values` into the job's row for `step` (the train and validation logs of a step arrive apart)."""
    values = {key: value for key, value in values.items() if value is not None}
    columns = ["job_id", "step", "created_at", *values]
    updates = ", ".join(f"{name} = excluded.{name}" for name in ["created_at", *values])
    with store.transaction() as con:
        con.execute(f"INSERT INTO finetune.job_metrics ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
                    f"ON CONFLICT (job_id, step) DO UPDATE SET {updates}", [job_id, step, now_utc(), *values.values()])


def _record_checkpoint(store: Store, plan: LocalPlan, step: int, folder: Path) -> None:
    name = plan.checkpoint_name(step)
    metrics = store.query(f"SELECT {', '.join(_METRIC_COLUMNS[1:])} FROM finetune.job_metrics WHERE job_id = ? "
                          "AND step = ?", [plan.job_id, step])
    values = dict(zip(_METRIC_COLUMNS[1:], metrics[0])) if metrics else {}
    with store.transaction() as con:
        Store.upsert(con, "job_checkpoints", {
            "checkpoint_id": f"{plan.job_id}:checkpoint-{step}", "job_id": plan.job_id, "step_number": step,
            "fine_tuned_model_checkpoint": name, "created_at": now_utc(), **values,
            "full_valid_loss": None, "full_valid_mean_token_accuracy": None,
        })
        Store.upsert(con, "models", {
            "model_name": name, "kind": "checkpoint", "job_id": plan.job_id, "step": step,
            "base_model": str(plan.base_model), "dataset_name": plan.dataset, "experiment": plan.experiment,
            "endpoint": ENDPOINT, "created_at": now_utc(),
        })
    _write_marker(folder, plan, name, "checkpoint", step)


def _write_marker(folder: Path, plan: LocalPlan, name: str, kind: str, step: int | None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text(json.dumps({
        "model_name": name, "kind": kind, "job_id": plan.job_id, "step": step, "base_model": str(plan.base_model),
        "dataset": plan.dataset}, indent=2) + "\n")


# -- training ------------------------------------------------------------------------------------------------


@dataclass
class LocalResult:
    job_id: str
    status: str
    global_step: int
    total_steps: int
    resumed_from: Path | None
    output_dir: Path
    adapter_dir: Path | None = None
    merged_dir: Path | None = None
    checkpoints: list[int] = field(default_factory=list)
    first_loss: float | None = None
    last_loss: float | None = None
    trained_tokens: int = 0


@dataclass
class TrainingData:
    """The examples a job trains and evaluates on (prompt-completion conversational rows, TRL's format), and
    what `max_length`/`over_length` did to them; `longer` and `left_out` are per split ("train", "validation")."""

    train: list[dict]
    validation: list[dict]
    longer: dict[str, int] = field(default_factory=dict)  # examples over max_length, before over_length acts
    # examples left out: by over_length drop, or (truncate) by TRL for keeping no completion token within max_length
    left_out: dict[str, int] = field(default_factory=dict)


def require_quantization_support(plan: LocalPlan) -> None:
    """4bit/8bit (QLoRA) loads the base through bitsandbytes, which needs a CUDA GPU: without one, a PlanError
    naming the recipe key, raised before anything is loaded or written."""
    if plan.quantization == "none":
        return
    import torch

    where = f"recipe {plan.recipe}" if plan.recipe else "--quantization"
    if not torch.cuda.is_available():
        raise PlanError(f"quantization: {plan.quantization} ({where}) needs a CUDA GPU (bitsandbytes QLoRA) and "
                        "this machine has none; set `quantization: none` (or --quantization none) to train the "
                        "LoRA adapter on the unquantised model")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise LocalModelError(f"quantization: {plan.quantization} ({where}) needs bitsandbytes (part of the "
                              "'local' extra): pip install -e '.[local]'") from None


def prepare_data(plan: LocalPlan, tokenizer) -> TrainingData:
    """The job's training and validation examples as TRL prompt-completion rows (`local_plan`'s split and
    rendering: the plan counts what the job trains on), with `over_length` applied: `drop` leaves out every
    example whose rendering is longer than `max_length` (counted and logged with its line numbers); `truncate`
    keeps them, and the trainer cuts them to `max_length` tokens (TRL then also leaves out any example left
    without a completion token: see `build_trainer`)."""
    from .local_plan import read_examples, render_example, split_prompt_completion

    data = TrainingData([], [])
    for split, path in (("train", plan.train_path), ("validation", plan.validation_path)):
        if path is None:
            continue
        examples = read_examples(path)
        rows = [dict(zip(("prompt", "completion"), split_prompt_completion(example.messages)))
                for example in examples]
        if plan.max_length:
            fits = [render_example(tokenizer, example.messages, example.line).fits(plan.max_length)
                    for example in examples]
            longer = [example.line for example, fit in zip(examples, fits) if not fit]
            data.longer[split] = len(longer)
            if longer and plan.over_length == "drop":
                rows = [row for row, fit in zip(rows, fits) if fit]
                data.left_out[split] = len(longer)
                log.info("%s: %d of %d example(s) are longer than max_length %d tokens and are left out "
                         "(over_length: drop), line(s) %s", path, len(longer), len(examples), plan.max_length,
                         _lines(longer))
            elif longer:
                log.info("%s: %d of %d example(s) are longer than max_length %d tokens and are cut to it "
                         "(over_length: truncate), line(s) %s", path, len(longer), len(examples), plan.max_length,
                         _lines(longer))
        setattr(data, split, rows)
    if not data.train:
        raise PlanError(f"{plan.train_path}: no training examples"
                        + (f" left (over_length: drop, max_length {plan.max_length})" if data.left_out.get("train")
                           else ""))
    return data


def _lines(numbers: list[int], shown: int = 20) -> str:
    return ", ".join(map(str, numbers[:shown])) + (f" … (+{len(numbers) - shown})" if len(numbers) > shown else "")


def _load_for_training(plan: LocalPlan):
    """The base model to put the LoRA adapter on: full precision, or quantised and prepared for k-bit training
    (norms in float32, input gradients on) when the plan asks for 4bit/8bit."""
    model = load_base(plan.base_model, for_training=True, quantization=plan.quantization)
    if plan.quantization != "none":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=plan.gradient_checkpointing)
    return model


def build_trainer(plan: LocalPlan, store: Store | None = None, *, quiet: bool = False, logging_steps: int = 1):
    """TRL's SFTTrainer for `plan` on prompt-completion conversational data (prompt = the messages before the
    last assistant turn, completion = that turn; the loss covers the completion only), with a peft LoRA
    adapter on `lora_target_modules`; returns (trainer, TrainingData). With a store, the warehouse callbacks
    are attached. Nothing is written until `trainer.train()`."""
    _imports(training=True)  # offline first: TRL's trainer pings the hub (usage telemetry) unless told not to
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    if quiet:
        from datasets.utils.tqdm import disable_progress_bars

        disable_progress_bars()
    tokenizer = load_tokenizer(plan.base_model)
    data = prepare_data(plan, tokenizer)
    model = _load_for_training(plan)
    targets = plan.lora_target_modules
    lora = LoraConfig(r=plan.lora_r, lora_alpha=plan.lora_alpha, lora_dropout=plan.lora_dropout,
                      target_modules=targets if isinstance(targets, str) else list(targets), task_type="CAUSAL_LM")
    cuda = torch.cuda.is_available()
    bf16 = bool(cuda and torch.cuda.is_bf16_supported())
    arguments = SFTConfig(
        output_dir=str(plan.output_dir), num_train_epochs=plan.epochs, per_device_train_batch_size=plan.batch_size,
        per_device_eval_batch_size=plan.batch_size, gradient_accumulation_steps=plan.gradient_accumulation_steps,
        learning_rate=plan.learning_rate, lr_scheduler_type="linear", logging_strategy="steps",
        logging_steps=logging_steps, save_strategy="epoch", eval_strategy="epoch" if data.validation else "no",
        seed=plan.seed, data_seed=plan.seed, report_to=[], disable_tqdm=quiet, dataloader_num_workers=0,
        dataloader_pin_memory=cuda,
        # TRL's defaults differ from transformers': say what this job does rather than inherit them
        bf16=bf16, fp16=False,
        # transformers 5 calls gradient checkpointing activation checkpointing (the old name is a deprecated alias)
        activation_checkpointing=plan.gradient_checkpointing,
        # the loss on the completion (the assistant turn) only; sequences cut to max_length (keep_start)
        completion_only_loss=True, max_length=plan.max_length, truncation_mode="keep_start", packing=False,
    )
    trainer = SFTTrainer(
        model=model, args=arguments, train_dataset=Dataset.from_list(data.train),
        eval_dataset=Dataset.from_list(data.validation) if data.validation else None, processing_class=tokenizer,
        peft_config=lora, callbacks=_callbacks(store, plan) if store is not None else None,
    )
    if quiet:
        from transformers import PrinterCallback

        trainer.remove_callback(PrinterCallback)
    # truncate keeps an over-long example only while some of its completion survives the cut: TRL leaves out
    # the ones whose prompt alone fills max_length (they would train on nothing)
    for split, prepared, rows in (("train", trainer.train_dataset, data.train),
                                  ("validation", trainer.eval_dataset, data.validation)):
        if prepared is not None and len(prepared) < len(rows):
            data.left_out[split] = data.left_out.get(split, 0) + len(rows) - len(prepared)
            log.info("%s: %d example(s) have no assistant token left within max_length %d tokens and are left "
                     "out", split, len(rows) - len(prepared), plan.max_length)
    if not len(trainer.train_dataset):
        raise PlanError(f"{plan.train_path}: no training example keeps an assistant token within max_length "
                        f"{plan.max_length}")
    return trainer, data


def _checkpointing(model) -> bool:
    """Whether the model recomputes activations in the backward pass (transformers 5 names it
    `is_activation_checkpointing`, earlier versions `is_gradient_checkpointing`)."""
    for name in ("is_activation_checkpointing", "is_gradient_checkpointing"):
        if hasattr(type(model), name) or hasattr(model, name):
            return bool(getattr(model, name))
    return False


def _callbacks(store: Store, plan: LocalPlan):
    from transformers import TrainerCallback

    class WarehouseCallback(TrainerCallback):
        """Metrics per step and checkpoints per save into the warehouse (main process only)."""

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            if state.is_world_process_zero and model is not None:
                log.info("%s: %d optimizer step(s), each over %d batch(es) of %d example(s) per device; "
                         "quantization %s; gradient checkpointing %s", plan.job_id, state.max_steps,
                         args.gradient_accumulation_steps, plan.batch_size, plan.quantization,
                         "on" if _checkpointing(model) else "off")

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero or not logs:
                return
            values: dict[str, Any] = {"total_steps": state.max_steps}
            if "loss" in logs:
                values["train_loss"] = logs["loss"]
                values["train_mean_token_accuracy"] = logs.get("mean_token_accuracy")
            if "eval_loss" in logs:
                values["valid_loss"] = logs["eval_loss"]
                values["valid_mean_token_accuracy"] = logs.get("eval_mean_token_accuracy")
            if len(values) > 1:
                _record_metrics(store, plan.job_id, state.global_step, values)

        def on_save(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
                _record_checkpoint(store, plan, state.global_step, folder)

    class StopAfter(TrainerCallback):
        """--max-steps: stop (with a checkpoint) once that many optimizer steps are done; a rerun resumes."""

        def on_step_end(self, args, state, control, **kwargs):
            if plan.max_steps and state.global_step >= plan.max_steps and state.global_step < state.max_steps:
                control.should_training_stop = True
                control.should_save = True

    return [WarehouseCallback(), StopAfter()]


def train_local(plan: LocalPlan, store: Store, *, quiet: bool = False, logging_steps: int = 1) -> LocalResult:
    """Train (or resume) `plan`'s job to the end, or to `plan.max_steps`; see the module docstring."""
    _imports(training=True)
    require_quantization_support(plan)
    from transformers.trainer_utils import get_last_checkpoint

    main = _main_process()
    trainer, _ = build_trainer(plan, store, quiet=quiet, logging_steps=logging_steps)
    plan.output_dir.mkdir(parents=True, exist_ok=True)
    last = get_last_checkpoint(str(plan.output_dir))
    # every token of the rendered examples (prompt and completion), as the OpenAI backend counts trained tokens
    tokens_per_epoch = sum(len(ids) for ids in trainer.train_dataset["input_ids"])
    if main:
        _record_job(store, plan, "running")
        if last:
            log.info("resuming %s from %s", plan.job_id, last)
    try:
        trainer.train(resume_from_checkpoint=last)
    except KeyboardInterrupt:
        if main:
            _record_job(store, plan, "interrupted")
        raise
    except Exception as error:
        if main:
            _record_job(store, plan, "failed", error_code=type(error).__name__, error_message=str(error)[:2000])
        raise
    state = trainer.state
    finished = state.global_step >= state.max_steps
    result = LocalResult(plan.job_id, "succeeded" if finished else "interrupted", state.global_step, state.max_steps,
                         Path(last) if last else None, plan.output_dir,
                         trained_tokens=round(tokens_per_epoch * plan.epochs * state.global_step / state.max_steps))
    if not main:
        return result
    if finished:
        tokenizer = trainer.processing_class
        result.adapter_dir = plan.output_dir / "adapter"
        trainer.save_model(str(result.adapter_dir))
        tokenizer.save_pretrained(str(result.adapter_dir))
        _write_marker(result.adapter_dir, plan, plan.final_name, "final", state.global_step)
        if plan.merge:
            result.merged_dir = plan.output_dir / "merged"
            _merged(trainer, plan, result.adapter_dir).save_pretrained(str(result.merged_dir))
            tokenizer.save_pretrained(str(result.merged_dir))
            _write_marker(result.merged_dir, plan, plan.final_name, "final", state.global_step)
    _finish(store, plan, result, finished)
    return result


def _merged(trainer, plan: LocalPlan, adapter_dir: Path):
    """The base with the trained adapter folded in. A quantised base cannot take the merge without losing it
    to rounding, so the base is loaded again unquantised and the saved adapter applied to it."""
    if plan.quantization == "none":
        return trainer.model.merge_and_unload()
    from peft import PeftModel

    return PeftModel.from_pretrained(load_base(plan.base_model), str(adapter_dir)).merge_and_unload()


def _finish(store: Store, plan: LocalPlan, result: LocalResult, finished: bool) -> None:
    """The job's result file (results.csv, the OpenAI columns), job_results, the final model and the job row."""
    rows = store.query("SELECT step, train_loss, train_mean_token_accuracy, valid_loss, valid_mean_token_accuracy "
                       "FROM finetune.job_metrics WHERE job_id = ? ORDER BY step", [plan.job_id])
    result.checkpoints = [row[0] for row in store.query(
        "SELECT step_number FROM finetune.job_checkpoints WHERE job_id = ? ORDER BY step_number", [plan.job_id])]
    losses = [row[1] for row in rows if row[1] is not None]
    result.first_loss, result.last_loss = (losses[0], losses[-1]) if losses else (None, None)
    if not finished:
        _record_job(store, plan, "interrupted", trained_tokens=result.trained_tokens)
        return
    results_csv = plan.output_dir / "results.csv"
    with results_csv.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", "train_loss", "train_accuracy", "valid_loss", "valid_mean_token_accuracy"])
        for row in rows:
            writer.writerow(["" if value is None else value for value in row])
    finished_at = now_utc()
    with store.transaction() as con:
        con.execute("DELETE FROM finetune.job_results WHERE job_id = ?", [plan.job_id])
        for step, train_loss, train_accuracy, valid_loss, valid_accuracy in rows:
            Store.upsert(con, "job_results", {
                "job_id": plan.job_id, "step": step, "train_loss": train_loss, "train_accuracy": train_accuracy,
                "valid_loss": valid_loss, "valid_mean_token_accuracy": valid_accuracy,
                "result_file_id": str(results_csv)})
        Store.upsert(con, "models", {
            "model_name": plan.final_name, "kind": "final", "job_id": plan.job_id, "step": result.global_step,
            "base_model": str(plan.base_model), "dataset_name": plan.dataset, "experiment": plan.experiment,
            "endpoint": ENDPOINT, "created_at": finished_at,
        })
    _record_job(store, plan, "succeeded", fine_tuned_model=plan.final_name, trained_tokens=result.trained_tokens,
                finished_at=finished_at, result_files=[str(results_csv)])
