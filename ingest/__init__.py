"""pinoloft's ingest: PINOLO output trees into the warehouse's `raw` schema (docs/warehouse.md).

    >>> from ingest import load, check_pairs, load_datasets, synthesize
    >>> report = load("examples/pinolo-output", "data/warehouse.duckdb")   # doctest: +SKIP
    >>> report.reconciliation                                               # doctest: +SKIP
    'files seen 1157 = loaded 1123 + quarantined 34 + skipped as unchanged 0; vanished 0'

The library raises `IngestError` subclasses (each a `pinoloft_base.errors.PinoloftError` with its exit code)
for what a user can fix; bad input files never raise, they go to `raw.ingest_quarantine`. The command line is
`pinoloft ingest|check|datasets` (or `python -m ingest load|check|datasets|synthesize|pairs`); pairs from
outside PINOLO enter with `load_external_pairs` (`python -m ingest pairs`).
"""

from .datasets import load_datasets
from .errors import (
    DatasetConfigError,
    IngestError,
    ReconciliationError,
    SourceError,
    StepOrderError,
    UnknownDatasetError,
    WarehouseBusyError,
    WarehouseError,
)
from .external import ExternalPairsReport, load_external_pairs
from .loader import LoadReport, load
from .synthesize import SynthesizeReport, synthesize
from .verdicts import CheckReport, check_pairs

__all__ = [
    "CheckReport",
    "DatasetConfigError",
    "ExternalPairsReport",
    "IngestError",
    "LoadReport",
    "ReconciliationError",
    "SourceError",
    "StepOrderError",
    "SynthesizeReport",
    "UnknownDatasetError",
    "WarehouseBusyError",
    "WarehouseError",
    "check_pairs",
    "load",
    "load_datasets",
    "load_external_pairs",
    "synthesize",
]
