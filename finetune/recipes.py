"""Recipes: `finetune/recipes/<name>.yml`, one file per reproducible local LoRA job (alignment-handbook style).

A recipe names the dataset (an export under `data/exports/<dataset>/`), the base model (a local folder: nothing
is downloaded) and every setting of the job:

    dataset: demo
    base_model: data/base-models/Qwen2.5-Coder-0.5B-Instruct
    epochs: 3                       # passes over the training split
    max_steps: null                 # stop after this many optimizer steps (a checkpoint; rerun to resume)
    batch_size: 4                   # per device
    gradient_accumulation_steps: 1  # optimizer step every N batches (effective batch = batch × N × devices)
    learning_rate: 2.0e-4
    lora: {r: 8, alpha: 16, dropout: 0.05, target_modules: all-linear}   # or a list such as [q_proj, v_proj]
    quantization: none              # none | 4bit | 8bit (QLoRA through bitsandbytes; CUDA only)
    gradient_checkpointing: false   # recompute activations in the backward pass: less memory, ~30% slower
    max_length: 2048                # tokens per example (null: no limit)
    over_length: truncate           # drop | truncate: what happens to an example longer than max_length
    seed: 42
    merge: false                    # also write the base with the adapter merged in
    description: free text, ignored

Every key is optional (the defaults are the ones above; `dataset` and `base_model` must come from the recipe or
from the command line). An unknown key, a value of the wrong type or out of range is a RecipeError that names
the file and the key (exit 2). Command-line flags override the recipe, key by key (`Recipe.override`), and are
checked by the same rules, the error then naming the flag.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import yaml

from .errors import FinetuneError

__all__ = ["Recipe", "LoraSettings", "RecipeError", "load_recipe", "QUANTIZATIONS", "OVER_LENGTH", "ALL_LINEAR",
           "DEFAULT_RECIPES", "FLAG_NAMES"]

DEFAULT_RECIPES = Path("finetune/recipes")
QUANTIZATIONS = ("none", "4bit", "8bit")
OVER_LENGTH = ("drop", "truncate")
ALL_LINEAR = "all-linear"  # peft's name for every linear layer of the decoder (the output layer excepted)


class RecipeError(FinetuneError):
    """A recipe (or a flag overriding one) is malformed: the message names the file or flag and the key."""


@dataclass(frozen=True)
class LoraSettings:
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: str | tuple[str, ...] = ALL_LINEAR


@dataclass(frozen=True)
class Recipe:
    """A local job's settings, validated; `path` is the file they came from (None: defaults and flags)."""

    dataset: str | None = None
    base_model: Path | None = None
    epochs: int = 3
    max_steps: int | None = None
    batch_size: int = 4
    gradient_accumulation_steps: int = 1
    learning_rate: float = 2e-4
    lora: LoraSettings = field(default_factory=LoraSettings)
    quantization: str = "none"
    gradient_checkpointing: bool = False
    max_length: int | None = 2048
    over_length: str = "truncate"
    seed: int = 42
    merge: bool = False
    path: Path | None = None

    def resolved(self) -> dict[str, Any]:
        """Every setting, as JSON-ready values: what is logged before a job and stored with it."""
        values = asdict(self)
        values["base_model"] = str(self.base_model) if self.base_model else None
        values["recipe"] = str(self.path) if self.path else None
        del values["path"]
        lora = values["lora"]
        if not isinstance(lora["target_modules"], str):
            lora["target_modules"] = list(lora["target_modules"])
        return values

    def to_json(self) -> str:
        return json.dumps(self.resolved(), sort_keys=True)

    def override(self, **flags: Any) -> "Recipe":
        """This recipe with the given settings replaced; None means "not given" and keeps the recipe's value.
        Names are the recipe's keys, `lora_r`, `lora_alpha`, `lora_dropout`, `lora_target_modules` for the
        LoRA ones; each value is checked as in a file, an error naming the flag (FLAG_NAMES)."""
        top: dict[str, Any] = {}
        lora: dict[str, Any] = {}
        for name, value in flags.items():
            if value is None:
                continue
            source = FLAG_NAMES.get(name, name)
            if name.startswith("lora_"):
                key = name[len("lora_"):]
                lora[key] = _check(_LORA_RULES, key, value, source)
            elif name in _RULES:
                top[name] = _check(_RULES, name, value, source)
            else:
                raise RecipeError(f"{source}: not a recipe setting")
        if lora:
            top["lora"] = replace(self.lora, **lora)
        return replace(self, **top)


# The flag that overrides each setting, for error messages.
FLAG_NAMES = {
    "dataset": "--dataset", "base_model": "--base-model", "epochs": "--epochs", "max_steps": "--max-steps",
    "batch_size": "--batch-size", "gradient_accumulation_steps": "--gradient-accumulation-steps",
    "learning_rate": "--learning-rate", "lora_r": "--lora-r", "lora_alpha": "--lora-alpha",
    "lora_dropout": "--lora-dropout", "lora_target_modules": "--lora-target-modules",
    "quantization": "--quantization", "gradient_checkpointing": "--gradient-checkpointing",
    "max_length": "--max-length", "over_length": "--over-length", "seed": "--seed", "merge": "--merge",
}


# -- value rules: each returns the checked value or raises ValueError with what was expected ---------------------


def _describe(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def _integer(minimum: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        # bool is an int in Python, but `epochs: true` is a mistake, not 1
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"must be an integer, not {_describe(value)}")
        if value < minimum:
            raise ValueError(f"must be {'positive' if minimum == 1 else f'at least {minimum}'}, not {value}")
        return value
    return check


def _optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def optional(value: Any) -> Any:
        return None if value is None else check(value)
    return optional


def _number(accepts: Callable[[float], bool], bounds: str) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        number = value
        # PyYAML reads `2e-4` (no dot) as a string: a number written that way is still a number
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                raise ValueError(f"must be a number, not {_describe(value)}") from None
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise ValueError(f"must be a number, not {_describe(value)}")
        if not accepts(float(number)):  # NaN fails every comparison, so it is refused here too
            raise ValueError(f"must be {bounds}, not {value!r}")
        return float(number)
    return check


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, not {_describe(value)}")
    return value


def _choice(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, not {_describe(value)}")
        return value
    return check


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must be a non-empty string, not {_describe(value)}")
    return value.strip()


def _folder(value: Any) -> Path:
    if isinstance(value, Path):
        return value
    return Path(_text(value)).expanduser()


def _target_modules(value: Any) -> str | tuple[str, ...]:
    """all-linear, or module names (a list, or a comma-separated string from the command line)."""
    if isinstance(value, str):
        names = [name.strip() for name in value.split(",")]
        if names == [ALL_LINEAR]:
            return ALL_LINEAR
        value = names
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"must be {ALL_LINEAR} or a list of module names (e.g. [q_proj, v_proj]), not "
                         f"{_describe(value)}")
    for name in value:
        if not isinstance(name, str) or not name.strip() or name == ALL_LINEAR:
            raise ValueError(f"must be {ALL_LINEAR} or a list of module names, and {name!r} is not a module name")
    return tuple(name.strip() for name in value)


_RULES: dict[str, Callable[[Any], Any]] = {
    "dataset": _text,
    "base_model": _folder,
    "epochs": _integer(1),
    "max_steps": _optional(_integer(1)),
    "batch_size": _integer(1),
    "gradient_accumulation_steps": _integer(1),
    "learning_rate": _number(lambda x: 0 < x < float("inf"), "a finite number above 0"),
    "quantization": _choice(QUANTIZATIONS),
    "gradient_checkpointing": _boolean,
    "max_length": _optional(_integer(1)),
    "over_length": _choice(OVER_LENGTH),
    "seed": _integer(0),
    "merge": _boolean,
}
_LORA_RULES: dict[str, Callable[[Any], Any]] = {
    "r": _integer(1),
    "alpha": _integer(1),
    "dropout": _number(lambda x: 0 <= x < 1, "a number from 0 up to (not including) 1"),
    "target_modules": _target_modules,
}
_IGNORED = {"description"}


def _check(rules: dict[str, Callable[[Any], Any]], key: str, value: Any, where: str) -> Any:
    try:
        return rules[key](value)
    except ValueError as error:
        raise RecipeError(f"{where}: {error}") from None


def _unknown(where: str, keys: set[str], known: set[str]) -> RecipeError:
    names = []
    for key in sorted(keys, key=str):
        close = difflib.get_close_matches(str(key), sorted(known), n=1)
        names.append(f"{key!r}" + (f" (did you mean {close[0]}?)" if close else ""))
    return RecipeError(f"{where}: unknown key{'s' if len(names) > 1 else ''} {', '.join(names)}; known: "
                       f"{', '.join(sorted(known))}")


def load_recipe(path: str | Path) -> Recipe:
    """The recipe in `path`, checked; RecipeError naming the file and the key when anything is off."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecipeError(f"{path}: no such recipe file (the shipped ones are in {DEFAULT_RECIPES}/)") from None
    except (OSError, UnicodeDecodeError) as error:
        raise RecipeError(f"{path}: cannot read the recipe ({error})") from None
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise RecipeError(f"{path}: not valid YAML: {error}") from None
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise RecipeError(f"{path}: a recipe is a mapping of settings (dataset: …, base_model: …), not "
                          f"{type(config).__name__}")
    known = set(_RULES) | {"lora"} | _IGNORED
    unknown = set(config) - known
    if unknown:
        raise _unknown(str(path), unknown, known)
    values: dict[str, Any] = {key: _check(_RULES, key, config[key], f"{path}: {key}")
                              for key in config if key in _RULES}
    if "lora" in config:
        lora = config["lora"]
        if not isinstance(lora, dict):
            raise RecipeError(f"{path}: lora: must be a mapping of {', '.join(_LORA_RULES)}, not {_describe(lora)}")
        unknown = set(lora) - set(_LORA_RULES)
        if unknown:
            raise _unknown(f"{path}: lora", unknown, set(_LORA_RULES))
        values["lora"] = LoraSettings(**{key: _check(_LORA_RULES, key, value, f"{path}: lora.{key}")
                                         for key, value in lora.items()})
    return Recipe(**values, path=path)
