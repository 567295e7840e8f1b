"""`batch_collections`: the collector's young-generation threshold is raised while a batch is judged and put
back afterwards, also when the batch fails; and judging a readable pair leaves no reference cycles, so a
collector that runs less often keeps nothing of it alive longer."""

from __future__ import annotations

import gc

import pytest

from mutations import apply_candidate, candidates, check
from mutations.batch import BATCH_GC_THRESHOLD, batch_collections
from mutations.engine import analyse
from simulator.querygen import QueryGenerator


def test_the_threshold_is_raised_inside_and_restored_after():
    before = gc.get_threshold()
    with batch_collections():
        assert gc.get_threshold() == (BATCH_GC_THRESHOLD, *before[1:])
    assert gc.get_threshold() == before


def test_the_threshold_is_restored_when_the_batch_raises():
    before = gc.get_threshold()
    with pytest.raises(ZeroDivisionError):
        with batch_collections():
            1 / 0
    assert gc.get_threshold() == before


def test_judging_readable_pairs_leaves_no_cycles_for_the_collector():
    generator = QueryGenerator(7)
    pairs = []
    while len(pairs) < 50:
        sql = generator.query()
        points = candidates(sql)
        if points:
            pairs.append((sql, apply_candidate(sql, points[0], 1).sql, points[0].strategy))
    gc.collect()
    gc.disable()
    try:
        for original, mutated, strategy in pairs:
            assert check(original, mutated, strategy).conforms
            assert check(original, original, strategy).kind == "identical"
            assert check(original, "SELEC x", strategy).kind == "mutated_not_select"
        analyse.cache_clear()
        assert gc.collect() == 0
    finally:
        gc.enable()
