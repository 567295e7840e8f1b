"""The warnings of an export, each `{code, split, strategy, message, fix}` (report.json `warnings`).

`split` is a split name, a pair `a/b` for an overlap between two splits, or None for the whole export;
`strategy` is None unless the warning concerns one strategy. Besides the data check's warnings (format
errors, duplicates, special tokens, too few examples in train, examples over the token limit…), the
dataset's own shape is judged:

* `small_split`: validation or test with fewer than SMALL_SPLIT examples, or any split with fewer examples
  than the dataset has strategies (less than one per strategy);
* `strategy_missing`: a strategy with examples in train but none in validation (or test): nothing can
  measure what the model learnt of it;
* `synthetic_share`: more than `max_synthetic_share` of the examples synthetic, overall or in a split;
* `no_real_pair`: a requested strategy whose examples are all synthetic (requested: the dataset's
  strategies in marts.dataset_coverage, or those of its examples when the warehouse has no such mart).

Every warning counts for `--strict`.
"""

from __future__ import annotations

from typing import Any

SMALL_SPLIT = 10
DEFAULT_MAX_SYNTHETIC_SHARE = 0.30

# The data check's warning kinds (CheckResult.warning_items) -> codes.
CHECK_CODES = {
    "duplicates": "duplicates",
    "special_tokens": "special_tokens",
    "too_few": "too_few_examples",
    "over_limit": "over_token_limit",
    "no_system": "no_system_message",
    "no_user": "no_user_message",
    "note": "note",
}
FIXES = {
    "format_errors": "read the first format problems in report.md; the examples come from the mart as they are",
    "duplicates": "deduplicate upstream (marts.pairs) or lower the quota so no pair is drawn twice",
    "special_tokens": "these strings may be read as control tokens: drop or rewrite those examples",
    "too_few_examples": "add pairs or raise the quotas: fine-tuning needs at least 10 training examples",
    "over_token_limit": "lower max_length in the dataset config, or pick a model with a higher limit (--model)",
    "no_system_message": "the mart should carry a system prompt for every example",
    "no_user_message": "the mart should carry the original SQL for every example",
    "note": "see the note",
    "cross_split_duplicates": "an example in two splits inflates the evaluation: deduplicate before the split",
    "overlap": "the same original in two splits leaks it into the evaluation: split by original fingerprint",
    "format_limit": "see docs/export.md for the service's limits",
    "small_split": "raise the split's share (splits: in the dataset config) or add pairs; figures on so few "
                   "examples are noise",
    "strategy_missing": "add pairs of the strategy or raise its quota so that every split holds some",
    "synthetic_share": "add real pairs (more PINOLO runs, or external pairs), lower the quotas or set top_up: "
                       "false; raise --max-synthetic-share if this much synthetic data is intended",
    "no_real_pair": "run PINOLO until the strategy fires, or ingest real pairs of it; until then the model "
                    "learns it from synthetic examples only",
}


def finding(code: str, message: str, split: str | None = None, strategy: str | None = None) -> dict[str, Any]:
    return {"code": code, "split": split, "strategy": strategy, "message": message, "fix": FIXES[code]}


def _percent(share: float) -> str:
    return f"{share:.0%}"


def shape_findings(counts: dict[str, dict[tuple[str, bool], int]], requested: list[str],
                   max_synthetic_share: float) -> list[dict[str, Any]]:
    """The dataset's own warnings from `counts` (split -> (strategy, is_synthetic) -> examples, every split
    present) and the requested strategies (empty: those of the examples)."""
    splits = list(counts)
    strategies = sorted(requested or {strategy for per in counts.values() for strategy, _ in per})
    totals = {split: sum(per.values()) for split, per in counts.items()}
    present = {split: {strategy for (strategy, _), n in per.items() if n} for split, per in counts.items()}
    out = []
    for split in splits:
        n = totals[split]
        if split != "train" and n < SMALL_SPLIT:
            out.append(finding("small_split", f"{split}.jsonl: only {n} example(s); a split needs at least "
                               f"{SMALL_SPLIT} for its figures to mean anything", split))
        elif n < len(strategies):
            out.append(finding("small_split", f"{split}.jsonl: {n} example(s) for {len(strategies)} strategies, "
                               "fewer than one per strategy", split))
    for split in splits:
        if split == "train":
            continue
        for strategy in sorted(present.get("train", set()) - present[split]):
            out.append(finding("strategy_missing", f"{strategy} has examples in train but none in {split}",
                               split, strategy))
    everything = sum(totals.values())
    synthetic = {split: sum(n for (_, is_synthetic), n in per.items() if is_synthetic)
                 for split, per in counts.items()}
    limit = _percent(max_synthetic_share)
    if everything and sum(synthetic.values()) / everything > max_synthetic_share:
        share = sum(synthetic.values()) / everything
        out.append(finding("synthetic_share", f"{sum(synthetic.values())} of {everything} examples are synthetic "
                           f"({_percent(share)}, above {limit})"))
    for split in splits:
        if totals[split] and synthetic[split] / totals[split] > max_synthetic_share:
            out.append(finding("synthetic_share", f"{split}.jsonl: {synthetic[split]} of {totals[split]} examples "
                               f"are synthetic ({_percent(synthetic[split] / totals[split])}, above {limit})", split))
    real = {strategy for per in counts.values() for (strategy, is_synthetic), n in per.items()
            if n and not is_synthetic}
    for strategy in strategies:
        if strategy not in real:
            out.append(finding("no_real_pair", f"{strategy} has no real pair in the dataset: all its examples are "
                               "synthetic" if any(strategy in names for names in present.values())
                               else f"{strategy} has no real pair in the dataset, and no example", None, strategy))
    return out
