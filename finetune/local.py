"""The open-weights backend: supervised fine-tuning with LoRA on a local model folder (transformers + peft).

It trains on the same export as the OpenAI backend (`data/exports/<dataset>/train.jsonl`, evaluated on
`validation.jsonl` at the end of every epoch), rendering each conversation with the model's own chat template
(`tokenizer.apply_chat_template`); the loss covers the assistant tokens only. A checkpoint is saved at the end
of every epoch (and when `max_steps` stops a run early), and a rerun of the same job resumes from the last one.

Everything lands in the warehouse tables the OpenAI backend writes (`finetune.jobs`, `job_metrics`,
`job_checkpoints`, `job_results`, `models`, endpoint `local`), so `plot`, `compare` and `evaluate` work
unchanged. The job id is `local-<12 hex>` over the dataset hash, the base model and the hyperparameters.

Nothing is downloaded: every load uses `local_files_only=True` and the process runs with `HF_HUB_OFFLINE=1`.
torch, transformers and peft (the `local` extra) are imported inside the functions here, never by the core.
Multi-GPU: `accelerate launch -m finetune train --backend local …`; transformers' Trainer does the rest, and
only the main process writes to the warehouse.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import LocalModelError, PlanError
from .plan import dataset_hash, positive_or_auto
from .store import Store, now_utc

__all__ = ["LocalPlan", "LocalResult", "plan_local", "train_local", "tokenize_conversation", "Collator",
           "load_base", "require_model_dir", "offline", "ENDPOINT", "MARKER"]

log = logging.getLogger(__name__)

ENDPOINT = "local"
MARKER = "pinoloft.json"  # written into every adapter, checkpoint and merged folder: the served name and the job
DEFAULT_OUTPUT = Path("data/finetune/local")
DEFAULT_EPOCHS = 3
DEFAULT_BATCH_SIZE = 4
DEFAULT_LEARNING_RATE = 2e-4
IGNORE = -100


def offline() -> None:
    """No model hub at run time, whatever the caller's environment says."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    _hide_datasets_folder()


def _hide_datasets_folder() -> None:
    """The repository's `datasets/` folder (dataset configs) is importable as a namespace package from the
    repository root, and transformers would take it for Hugging Face `datasets`; unless that library really is
    installed, mark the name as absent so transformers' checks find nothing."""
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


def _imports():
    offline()
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
        import peft  # noqa: F401
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


def load_base(folder: Path, *, for_training: bool = False):
    """The base causal LM from a local folder (float32 on CPU, bfloat16 on a GPU that supports it)."""
    import torch
    from transformers import AutoModelForCausalLM

    dtype = torch.float32
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        dtype = torch.bfloat16
    try:
        model = AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True, dtype=dtype)
    except (OSError, ValueError) as error:
        raise LocalModelError(f"{folder}: cannot load the model ({error})") from None
    if for_training:
        model.config.use_cache = False
    return model


# -- data ----------------------------------------------------------------------------------------------------


def read_conversations(path: Path) -> list[list[dict]]:
    conversations = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                messages = json.loads(line)["messages"]
            except (ValueError, KeyError, TypeError):
                raise PlanError(f"{path}:{number}: not a chat example ({{\"messages\": [...]}})") from None
            if not any(message.get("role") == "assistant" for message in messages):
                raise PlanError(f"{path}:{number}: no assistant message to learn from")
            conversations.append([{"role": m["role"], "content": m["content"]} for m in messages])
    return conversations


def _render(tokenizer, messages: list[dict], generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)


def tokenize_conversation(tokenizer, messages: list[dict], max_length: int | None = None) -> dict[str, list[int]]:
    """input_ids, attention_mask and labels of one conversation rendered with the chat template; labels are
    IGNORE (-100) everywhere but on the assistant turns' tokens (their content and end-of-turn marker).

    Each assistant turn's span is found on the rendered text: from the end of the preceding messages rendered
    with the generation prompt to the end of the messages up to and including that turn."""
    text = _render(tokenizer, messages, False)
    spans = []
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prompt = _render(tokenizer, messages[:index], True) if index else ""
        upto = _render(tokenizer, messages[: index + 1], False)
        if not text.startswith(upto) or not upto.startswith(prompt):
            raise PlanError("the chat template does not render conversations prefix by prefix; the assistant "
                            "tokens cannot be located")
        spans.append((len(prompt), len(upto)))
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, truncation=False)
    ids = encoded["input_ids"]
    labels = []
    for token, (begin, end) in zip(ids, encoded["offset_mapping"]):
        inside = any(start <= begin < stop for start, stop in spans) and end > begin
        labels.append(token if inside else IGNORE)
    if max_length and len(ids) > max_length:
        ids, labels = ids[:max_length], labels[:max_length]
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels}


class Collator:
    """Right-pads a batch: pad id for input_ids, 0 for the attention mask, IGNORE for labels."""

    def __init__(self, pad_token_id: int) -> None:
        self.pad_token_id = pad_token_id

    def __call__(self, features: list[dict]) -> dict:
        import torch

        width = max(len(feature["input_ids"]) for feature in features)
        batch = {"input_ids": [], "attention_mask": [], "labels": []}
        for feature in features:
            gap = width - len(feature["input_ids"])
            batch["input_ids"].append(list(feature["input_ids"]) + [self.pad_token_id] * gap)
            batch["attention_mask"].append(list(feature["attention_mask"]) + [0] * gap)
            batch["labels"].append(list(feature["labels"]) + [IGNORE] * gap)
        return {key: torch.tensor(value, dtype=torch.long) for key, value in batch.items()}


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
    recipe: Path | None = None

    @property
    def final_name(self) -> str:
        """What the served endpoint calls the final model (finetune.models, kind final)."""
        return self.job_id

    def checkpoint_name(self, step: int) -> str:
        return f"{self.job_id}:ckpt-step-{step}"

    def params(self) -> dict[str, Any]:
        return {"backend": ENDPOINT, "base_model": str(self.base_model), "method": "supervised-lora",
                "epochs": self.epochs, "batch_size": self.batch_size, "learning_rate": self.learning_rate,
                "lora_r": self.lora_r, "lora_alpha": self.lora_alpha, "lora_dropout": self.lora_dropout,
                "max_length": self.max_length, "seed": self.seed}

    def describe(self) -> str:
        lines = [
            f"dataset {self.dataset}: local LoRA fine-tuning, job {self.job_id}",
            f"  training file:   {self.train_path}",
            f"  validation file: {self.validation_path or 'none'}",
            f"  base model: {self.base_model} (local files only; nothing is downloaded)",
            f"  LoRA r {self.lora_r}, alpha {self.lora_alpha}, dropout {self.lora_dropout}; epochs {self.epochs}, "
            f"batch size {self.batch_size}, learning rate {self.learning_rate:g}, seed {self.seed}"
            + (f"; stops after step {self.max_steps} (rerun to resume)" if self.max_steps else ""),
            f"  output: {self.output_dir} (checkpoint-<step>/ per epoch, adapter/"
            + (", merged/" if self.merge else "") + "); served name " + self.final_name,
        ]
        return "\n".join(lines)


def plan_local(dataset: str, base_model: str | Path, *, exports: Path = Path("data/exports"),
               epochs: int | str | None = None, batch_size: int | str | None = None,
               learning_rate: float | None = None, lora_r: int = 8, lora_alpha: int = 16, lora_dropout: float = 0.05,
               max_length: int | None = 2048, seed: int = 42, max_steps: int | None = None,
               output_dir: Path | None = None, merge: bool = False, experiment: str | None = None) -> LocalPlan:
    """The job for `dataset` on `base_model`: paths, hyperparameters and the job id; checks what is on disk."""
    export_dir = Path(exports) / dataset
    train = export_dir / "train.jsonl"
    if not train.is_file():
        raise PlanError(f"no training file {train}: export the dataset first (make export DATASET={dataset})")
    validation: Path | None = export_dir / "validation.jsonl"
    if not validation.is_file() or validation.stat().st_size == 0:
        validation = None
    base = require_model_dir(base_model)

    def number(name, raw, kind, default):
        value = positive_or_auto(name, raw, kind)
        return default if value == "auto" else value

    epochs = number("epochs", epochs, int, DEFAULT_EPOCHS)
    batch_size = number("batch size", batch_size, int, DEFAULT_BATCH_SIZE)
    learning_rate = number("learning rate", learning_rate, float, DEFAULT_LEARNING_RATE)
    for name, value in (("lora r", lora_r), ("lora alpha", lora_alpha)):
        if value <= 0:
            raise PlanError(f"{name} must be positive, not {value}")
    if max_steps is not None and max_steps <= 0:
        raise PlanError(f"max steps must be positive, not {max_steps}")
    plan = LocalPlan(dataset, train, validation, base, epochs, batch_size, learning_rate, lora_r, lora_alpha,
                     lora_dropout, max_length, seed, dataset_hash(train, validation), "", "", Path(), max_steps, merge, experiment)
    plan.params_hash = hashlib.sha256(json.dumps(plan.params(), sort_keys=True).encode()).hexdigest()
    plan.job_id = "local-" + hashlib.sha256(f"{plan.dataset_hash}:{plan.params_hash}".encode()).hexdigest()[:12]
    plan.output_dir = Path(output_dir) if output_dir else DEFAULT_OUTPUT / plan.job_id
    return plan


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


class _ListDataset:
    def __init__(self, rows: list[dict]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict:
        return self.rows[index]


def _trainer_class():
    import torch
    from transformers import Trainer

    class TokenAccuracyTrainer(Trainer):
        """transformers' Trainer that also reports the mean token accuracy on the assistant tokens, in training
        (`mean_token_accuracy` beside `loss`) and evaluation (`eval_mean_token_accuracy`)."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._counts = {"train": [0, 0], "eval": [0, 0]}

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            loss, outputs = super().compute_loss(model, inputs, return_outputs=True,
                                                 num_items_in_batch=num_items_in_batch)
            labels = inputs.get("labels")
            if labels is not None and getattr(outputs, "logits", None) is not None:
                with torch.no_grad():
                    predicted = outputs.logits[:, :-1].argmax(-1)
                    target = labels[:, 1:]
                    mask = target != IGNORE
                    counts = self._counts["train" if model.training else "eval"]
                    counts[0] += int((predicted[mask] == target[mask]).sum())
                    counts[1] += int(mask.sum())
            return (loss, outputs) if return_outputs else loss

        def _accuracy(self, split: str) -> float | None:
            correct, total = self._counts[split]
            self._counts[split] = [0, 0]
            if self.accelerator.num_processes > 1:
                summed = self.accelerator.reduce(torch.tensor([correct, total], device=self.accelerator.device),
                                                 reduction="sum")
                correct, total = (int(value) for value in summed.tolist())
            return correct / total if total else None

        def log(self, logs, start_time=None):
            if "loss" in logs:
                logs["mean_token_accuracy"] = self._accuracy("train")
            if "eval_loss" in logs:
                logs["eval_mean_token_accuracy"] = self._accuracy("eval")
            super().log(logs, start_time)

    return TokenAccuracyTrainer


def _callbacks(store: Store, plan: LocalPlan):
    from transformers import TrainerCallback

    class WarehouseCallback(TrainerCallback):
        """Metrics per step and checkpoints per save into the warehouse (main process only)."""

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
    _imports()
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import TrainingArguments, set_seed
    from transformers.trainer_utils import get_last_checkpoint

    main = _main_process()
    tokenizer = load_tokenizer(plan.base_model)
    train_rows = [tokenize_conversation(tokenizer, messages, plan.max_length)
                  for messages in read_conversations(plan.train_path)]
    valid_rows = ([tokenize_conversation(tokenizer, messages, plan.max_length)
                   for messages in read_conversations(plan.validation_path)] if plan.validation_path else [])
    if not train_rows:
        raise PlanError(f"{plan.train_path}: no training examples")
    set_seed(plan.seed)
    model = load_base(plan.base_model, for_training=True)
    lora = LoraConfig(r=plan.lora_r, lora_alpha=plan.lora_alpha, lora_dropout=plan.lora_dropout,
                      target_modules="all-linear", task_type="CAUSAL_LM")
    model = get_peft_model(model, lora)
    plan.output_dir.mkdir(parents=True, exist_ok=True)
    last = get_last_checkpoint(str(plan.output_dir)) if plan.output_dir.is_dir() else None
    bf16 = bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    arguments = TrainingArguments(
        output_dir=str(plan.output_dir), num_train_epochs=plan.epochs, per_device_train_batch_size=plan.batch_size,
        per_device_eval_batch_size=plan.batch_size, learning_rate=plan.learning_rate, lr_scheduler_type="linear",
        logging_strategy="steps", logging_steps=logging_steps, save_strategy="epoch",
        eval_strategy="epoch" if valid_rows else "no", seed=plan.seed, data_seed=plan.seed, report_to=[],
        remove_unused_columns=False, disable_tqdm=quiet, bf16=bf16, dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
    )
    trainer = _trainer_class()(
        model=model, args=arguments, train_dataset=_ListDataset(train_rows),
        eval_dataset=_ListDataset(valid_rows) if valid_rows else None, data_collator=Collator(tokenizer.pad_token_id),
        processing_class=tokenizer, callbacks=_callbacks(store, plan),
    )
    if quiet:
        from transformers import PrinterCallback

        trainer.remove_callback(PrinterCallback)
    tokens_per_epoch = sum(len(row["input_ids"]) for row in train_rows)
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
        result.adapter_dir = plan.output_dir / "adapter"
        trainer.save_model(str(result.adapter_dir))
        tokenizer.save_pretrained(str(result.adapter_dir))
        _write_marker(result.adapter_dir, plan, plan.final_name, "final", state.global_step)
        if plan.merge:
            result.merged_dir = plan.output_dir / "merged"
            merged = trainer.model.merge_and_unload()
            merged.save_pretrained(str(result.merged_dir))
            tokenizer.save_pretrained(str(result.merged_dir))
            _write_marker(result.merged_dir, plan, plan.final_name, "final", state.global_step)
    _finish(store, plan, result, finished)
    return result


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


def steps_per_epoch(examples: int, batch_size: int, processes: int = 1) -> int:
    return math.ceil(examples / (batch_size * processes))
