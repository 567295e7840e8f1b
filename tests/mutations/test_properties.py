"""Properties over generated impo.yy-shaped queries: the engine and the judge agree, always."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mutations import STRATEGIES, apply_candidate, candidates, check
from mutations.sqlsim import simplify
from mutations.tokens import tokenize
from simulator.querygen import QueryGenerator

RANDOM_FAMILIES = ({"RdMLikeU", "RdMLikeL"}, {"RdMRegExpU", "RdMRegExpL"})
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def generated_query(seed: int, all_strategies: bool) -> str:
    return QueryGenerator(seed, all_strategies=all_strategies).query()


def same_random_family(first: str, second: str) -> bool:
    return any(first in family and second in family for family in RANDOM_FAMILIES)


@SETTINGS
@given(seed=st.integers(0, 2**31), all_strategies=st.booleans())
def test_every_candidate_is_judged_conforming_with_the_same_is_upper(seed, all_strategies):
    sql = generated_query(seed, all_strategies)
    for candidate in candidates(sql):
        mutation = apply_candidate(sql, candidate, seed)
        verdict = check(sql, mutation.sql, candidate.strategy)
        assert (verdict.conforms, verdict.is_upper) == (True, candidate.is_upper), verdict.reason
        # byte-identical outside the mutation point
        assert mutation.sql[: candidate.start] == sql[: candidate.start]
        assert mutation.sql[candidate.start + len(mutation.replacement) :] == sql[candidate.end :]


@SETTINGS
@given(seed=st.integers(0, 2**31), all_strategies=st.booleans())
def test_a_correct_pair_under_another_name_does_not_conform(seed, all_strategies):
    sql = generated_query(seed, all_strategies)
    for candidate in candidates(sql):
        mutated = apply_candidate(sql, candidate, seed).sql
        for other in STRATEGIES:
            if other == candidate.strategy or same_random_family(other, candidate.strategy):
                continue
            verdict = check(sql, mutated, other)
            assert not verdict.conforms and verdict.is_upper is None, (other, candidate.strategy)
            assert verdict.reason


@SETTINGS
@given(seed=st.integers(0, 2**31), all_strategies=st.booleans())
def test_sqlsim_pairs_conform_and_reformatting_does_not_matter(seed, all_strategies):
    sql = generated_query(seed, all_strategies)
    for candidate in candidates(sql):
        mutated = apply_candidate(sql, candidate, seed).sql
        simple_original, simple_mutated = simplify(sql, mutated)
        verdict = check(simple_original, simple_mutated, candidate.strategy)
        assert (verdict.conforms, verdict.is_upper) == (True, candidate.is_upper), verdict.reason
        tokens = tokenize(mutated)
        spaced = "\n ".join(tokens.text(index, index + 1) for index in range(len(tokens)))
        assert check(sql, spaced.lower() if "'" not in spaced and "`" not in spaced else spaced,
                     candidate.strategy).conforms
