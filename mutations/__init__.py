"""pinoloft's PINOLO domain core: SQL reading, the 18 mutation strategies, the judge, and PINOLO files.

    >>> from mutations import apply, check
    >>> [m.sql for m in apply("SELECT `a` FROM `t` WHERE `a`>1", "FixMCmpOpU")]
    ['SELECT `a` FROM `t` WHERE `a`>=1']
    >>> check("SELECT `a` FROM `t` HAVING `a`>1", "SELECT `a` FROM `t` HAVING 1", "FixMHaving1U").conforms
    True
"""

from .checker import Judgement, Verdict, check, judge
from .engine import Candidate, Mutation, apply, apply_candidate, candidates
from .errors import MutationsError, SqlSyntaxError, UnknownStrategyError
from .identify import Identification, identify
from .patterns import can_produce
from .strategies import RANDOM_STRATEGIES, STRATEGIES

__all__ = [
    "Candidate",
    "Mutation",
    "MutationsError",
    "RANDOM_STRATEGIES",
    "STRATEGIES",
    "SqlSyntaxError",
    "UnknownStrategyError",
    "Identification",
    "Judgement",
    "Verdict",
    "apply",
    "apply_candidate",
    "can_produce",
    "candidates",
    "check",
    "identify",
    "judge",
]
