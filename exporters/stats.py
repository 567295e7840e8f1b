"""Distributions of per-example counts: min, max, mean, median and true 5th/95th percentiles.

Percentiles use the nearest-rank method: the p-th percentile of n sorted values is the value at rank
ceil(p * n / 100) (1-based), computed in integers. It is always an observed value: for 1..20, p5 = 1 and
p95 = 19; for 1..100, p5 = 5 and p95 = 95; for one value, every percentile is that value. (The cookbook's
`print_distribution` labels np.quantile(values, 0.1) and 0.9 as "p5" and "p95".) The median is the middle
value, or the mean of the two middle values for an even count (`statistics.median`). The mean is the
arithmetic mean as a float. An empty list gives None everywhere.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

STAT_KEYS = ("min", "max", "mean", "median", "p5", "p95")


def nearest_rank(sorted_values: Sequence[int | float], percent: int) -> int | float:
    """The `percent`-th percentile (0 < percent <= 100) of already sorted values, nearest-rank method."""
    if not sorted_values:
        raise ValueError("percentile of an empty sequence")
    if not 0 < percent <= 100:
        raise ValueError(f"percent must be in (0, 100], got {percent}")
    rank = -(-percent * len(sorted_values) // 100)  # ceil(percent * n / 100), exact in integers
    return sorted_values[max(rank, 1) - 1]


def distribution(values: Sequence[int | float]) -> dict[str, int | float | None]:
    if not values:
        return {key: None for key in STAT_KEYS}
    ordered = sorted(values)
    return {
        "min": ordered[0],
        "max": ordered[-1],
        "mean": sum(ordered) / len(ordered),
        "median": statistics.median(ordered),
        "p5": nearest_rank(ordered, 5),
        "p95": nearest_rank(ordered, 95),
    }
