"""Percentiles (nearest rank), distributions, the epochs rule at its boundaries, billing and cost."""

from __future__ import annotations

import pytest

from exporters.errors import ConfigError, UnknownModelError
from exporters.models import (
    ModelSpec,
    billing_tokens,
    default_epochs,
    get_model,
    load_models,
    training_cost_usd,
)
from exporters.stats import distribution, nearest_rank


def test_nearest_rank_exact_values():
    one_to_twenty = list(range(1, 21))
    assert (nearest_rank(one_to_twenty, 5), nearest_rank(one_to_twenty, 95)) == (1, 19)
    one_to_hundred = list(range(1, 101))
    assert (nearest_rank(one_to_hundred, 5), nearest_rank(one_to_hundred, 95)) == (5, 95)
    one_to_ten = list(range(1, 11))
    assert (nearest_rank(one_to_ten, 5), nearest_rank(one_to_ten, 95)) == (1, 10)
    assert nearest_rank(list(range(1, 22)), 5) == 2  # ceil(1.05) = 2
    assert nearest_rank(list(range(1, 22)), 95) == 20  # ceil(19.95) = 20
    assert nearest_rank([7], 5) == nearest_rank([7], 95) == 7
    assert nearest_rank(one_to_ten, 100) == 10
    assert nearest_rank(one_to_ten, 50) == 5


def test_nearest_rank_rejects_bad_input():
    with pytest.raises(ValueError):
        nearest_rank([], 5)
    with pytest.raises(ValueError):
        nearest_rank([1], 0)
    with pytest.raises(ValueError):
        nearest_rank([1], 101)


def test_distribution():
    assert distribution([5, 1, 3, 2, 4]) == {"min": 1, "max": 5, "mean": 3.0, "median": 3, "p5": 1, "p95": 5}
    assert distribution([4, 1, 3, 2]) == {"min": 1, "max": 4, "mean": 2.5, "median": 2.5, "p5": 1, "p95": 4}
    values = [10] * 19 + [1000]
    assert distribution(values) == {"min": 10, "max": 1000, "mean": 59.5, "median": 10.0, "p5": 10, "p95": 10}
    assert distribution([]) == {"min": None, "max": None, "mean": None, "median": None, "p5": None, "p95": None}


@pytest.mark.parametrize(("n", "epochs"), [
    (0, 0), (1, 25), (3, 25), (4, 25), (5, 20), (33, 3), (34, 3), (100, 3),
    (8333, 3), (8334, 2), (12500, 2), (12501, 1), (25000, 1), (25001, 1), (1_000_000, 1),
])
def test_default_epochs_boundaries(n, epochs):
    assert default_epochs(n) == epochs


def test_billing_and_cost():
    assert billing_tokens([10, 70_000, 65_536], 65_536, 3) == 3 * (10 + 65_536 + 65_536)
    assert billing_tokens([], 65_536, 0) == 0
    mini = get_model()
    assert mini.name == "gpt-4o-mini-2024-07-18"
    assert (mini.token_limit, mini.usd_per_1m_training_tokens, mini.encoding) == (65_536, 3.0, "o200k_base")
    assert training_cost_usd(1_000_000, mini) == 3.0
    assert training_cost_usd(725, mini) == 0.002175
    assert training_cost_usd(0, mini) == 0.0


def test_model_table_aliases_and_errors(tmp_path):
    assert get_model("gpt-4o-mini") is get_model("gpt-4o-mini-2024-07-18")
    assert get_model("gpt-3.5-turbo").encoding == "cl100k_base"
    with pytest.raises(UnknownModelError, match="unknown model 'gpt-9'.*gpt-4o-mini-2024-07-18"):
        get_model("gpt-9")
    table = tmp_path / "models.yml"
    table.write_text("default: tiny\nmodels:\n  tiny:\n    encoding: o200k_base\n    token_limit: 20\n"
                     "    usd_per_1m_training_tokens: 1.5\n")
    assert load_models(table).get() == ModelSpec("tiny", "o200k_base", 20, 1.5, ())
    table.write_text("models:\n  broken:\n    encoding: o200k_base\n")
    with pytest.raises(ConfigError, match="broken"):
        load_models(table)
