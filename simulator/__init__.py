"""pinoloft's PINOLO simulator: realistic PINOLO output trees for demos, tests and benches.

No user hands us their PINOLO output, so `generate` writes task-pool trees the way PINOLO, `ckstable` and
`sqlsim` leave them (reference §7), with real queries (`QueryGenerator`, PINOLO's grammar), real mutations
(the `mutations` engine) and, on request, realistic damage listed in a fault manifest.

It stands on `mutations` and the base floor only, and production code never imports it: what production
needs of PINOLO (the DBMS names, the manifest's name) lives in `mutations.formats`.
"""

from .generator import DEFAULT_MIX, FAULT_KINDS, GenerateError, GenerateSummary, generate, parse_mix
from .querygen import GeneratedQuery, QueryGenerator

__all__ = [
    "DEFAULT_MIX",
    "FAULT_KINDS",
    "GenerateError",
    "GenerateSummary",
    "GeneratedQuery",
    "QueryGenerator",
    "generate",
    "parse_mix",
]
