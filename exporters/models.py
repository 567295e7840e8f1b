"""The model table (token limit, encoding, price) and the cookbook's epochs and billing rules.

The table lives in `exporters/config/models.yml`, keyed by model name; `get_model` also accepts aliases.
The default-epochs rule is OpenAI's, as in the cookbook "Data preparation and analysis for chat model
fine-tuning": aim at TARGET_EPOCHS passes, but raise the epochs for small files (so that at least
MIN_TARGET_EXAMPLES examples are seen) and lower them for big ones (at most MAX_TARGET_EXAMPLES), within
[MIN_DEFAULT_EPOCHS, MAX_DEFAULT_EPOCHS].
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import ConfigError, UnknownModelError

CONFIG_PATH = Path(__file__).resolve().parent / "config" / "models.yml"

TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25


@dataclass(frozen=True)
class ModelSpec:
    """One row of the model table."""

    name: str
    encoding: str
    token_limit: int
    usd_per_1m_training_tokens: float
    aliases: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class ModelTable:
    default: str
    models: dict[str, ModelSpec]

    def get(self, name: str | None = None) -> ModelSpec:
        """The spec of `name` (a model name or alias), or of the default model when `name` is None."""
        wanted = self.default if name is None else name
        if wanted in self.models:
            return self.models[wanted]
        for spec in self.models.values():
            if wanted in spec.aliases:
                return spec
        raise UnknownModelError(wanted, sorted(self.models))


def load_models(path: str | Path | None = None) -> ModelTable:
    """Read and validate a model table (default: the bundled `config/models.yml`)."""
    source = Path(path) if path is not None else CONFIG_PATH
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read model table {source}: {error}") from error
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict) or not data["models"]:
        raise ConfigError(f"{source}: expected a mapping with a non-empty 'models' mapping")
    models: dict[str, ModelSpec] = {}
    for name, row in data["models"].items():
        try:
            spec = ModelSpec(
                name=str(name),
                encoding=str(row["encoding"]),
                token_limit=int(row["token_limit"]),
                usd_per_1m_training_tokens=float(row["usd_per_1m_training_tokens"]),
                aliases=tuple(str(alias) for alias in row.get("aliases") or ()),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ConfigError(f"{source}: model {name!r} needs encoding, token_limit and "
                              f"usd_per_1m_training_tokens ({error!r})") from error
        if spec.token_limit <= 0 or spec.usd_per_1m_training_tokens < 0:
            raise ConfigError(f"{source}: model {name!r} has a non-positive token limit or a negative price")
        models[spec.name] = spec
    default = str(data.get("default") or next(iter(models)))
    if default not in models:
        raise ConfigError(f"{source}: default model {default!r} is not in the table")
    return ModelTable(default=default, models=models)


@functools.cache
def _bundled_table() -> ModelTable:
    return load_models()


def get_model(name: str | None = None) -> ModelSpec:
    """A model from the bundled table, by name or alias; None gives the default (gpt-4o-mini-2024-07-18)."""
    return _bundled_table().get(name)


def default_epochs(n_examples: int) -> int:
    """The cookbook's default number of epochs for a training file of `n_examples` examples (0 for none)."""
    if n_examples <= 0:
        return 0
    n_epochs = TARGET_EPOCHS
    if n_examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        n_epochs = min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // n_examples)
    elif n_examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        n_epochs = max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n_examples)
    return n_epochs


def billing_tokens(token_counts: list[int], token_limit: int, n_epochs: int) -> int:
    """Tokens billed for training: each example counts at most `token_limit` tokens, once per epoch."""
    return n_epochs * sum(min(token_limit, count) for count in token_counts)


def training_cost_usd(n_billing_tokens: int, spec: ModelSpec) -> float:
    """Estimated training cost in US dollars, rounded to the micro-dollar."""
    return round(n_billing_tokens * spec.usd_per_1m_training_tokens / 1_000_000, 6)
