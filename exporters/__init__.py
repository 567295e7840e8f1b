"""exporters: marts.dataset_examples to chat JSONL with sidecars (and, on demand, the same examples for
other trainers: hf Parquet, LLaMA-Factory, axolotl, Vertex AI), and the data check of chat JSONL files.

Floor 1 of pinoloft: imports only the base floor (`pinoloft_base`); reads the warehouse read-only.

>>> from exporters import check_file, export_dataset
>>> result = check_file("data/exports/demo/train.jsonl")          # doctest: +SKIP
>>> result.to_json()["n_examples"]                                 # doctest: +SKIP
"""

from .check import FORMAT_ERROR_CATEGORIES, CheckResult, check_examples, check_file, format_problems
from .errors import (
    ConfigError,
    DatasetNotFoundError,
    EncodingDataError,
    ExportersError,
    UnknownFormatError,
    UnknownModelError,
    WarehouseError,
)
from .export import ExportResult, export_dataset, export_datasets
from .formats import FORMATS, KNOWN_FORMATS, parse_formats
from .models import ModelSpec, default_epochs, get_model, load_models
from .stats import distribution, nearest_rank
from .tokens import TokenCounter, get_encoding

__all__ = [
    "FORMATS",
    "FORMAT_ERROR_CATEGORIES",
    "KNOWN_FORMATS",
    "CheckResult",
    "ConfigError",
    "DatasetNotFoundError",
    "EncodingDataError",
    "ExportResult",
    "ExportersError",
    "ModelSpec",
    "TokenCounter",
    "UnknownFormatError",
    "UnknownModelError",
    "WarehouseError",
    "check_examples",
    "check_file",
    "default_epochs",
    "distribution",
    "export_dataset",
    "export_datasets",
    "format_problems",
    "get_encoding",
    "get_model",
    "load_models",
    "nearest_rank",
    "parse_formats",
]
