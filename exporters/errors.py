"""Exceptions raised by the exporters library. Only the CLI runner turns them into exit codes: each is an
input error (2), but for the warehouse in use by another process (3, `WarehouseBusyError`)."""

from __future__ import annotations

from pinoloft_base.errors import PinoloftError, WarehouseBusyError, WarehouseError

__all__ = ["ConfigError", "DatasetNotFoundError", "EncodingDataError", "ExportersError", "UnknownFormatError",
           "UnknownModelError", "WarehouseBusyError", "WarehouseError"]


class ExportersError(PinoloftError):
    """Base class for every error this package raises on purpose (the warehouse's are the base floor's
    `WarehouseError`: missing, unreadable, in use, or lacking the marts table/columns we read)."""


class DatasetNotFoundError(ExportersError):
    """The asked dataset has no rows in `marts.dataset_examples`; carries the names that do exist."""

    def __init__(self, name: str, available: list[str]) -> None:
        self.name = name
        self.available = list(available)
        listing = ", ".join(self.available) if self.available else "none (run `make transform` first)"
        super().__init__(f"dataset {name!r} not found in marts.dataset_examples; datasets that exist: {listing}")


class UnknownModelError(ExportersError):
    """A model name that is not in the model table (`exporters/config/models.yml`)."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = list(known)
        super().__init__(f"unknown model {name!r}: expected one of {', '.join(self.known)} "
                         "(add it to exporters/config/models.yml)")


class ConfigError(ExportersError):
    """The model/price table is malformed."""


class EncodingDataError(ExportersError):
    """The local BPE file of a tokenizer encoding is missing or does not match tiktoken's expected SHA-256."""


class UnknownFormatError(ExportersError):
    """An export format that is not one of `exporters.formats.KNOWN_FORMATS`; carries the known names."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = list(known)
        super().__init__(f"unknown export format {name!r}: expected one of {', '.join(self.known)} "
                         "(repeat --format or separate names with commas)")
