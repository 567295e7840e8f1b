"""Random queries in the shape of PINOLO's default grammar (`impo.yy`, reference §8), rendered as stage 1 does.

PINOLO's `originalSql` is not what go-randgen wrote but TiDB's re-rendering of it (§2, §5): uppercase
keywords and function names, every identifier backquoted, every string literal prefixed `_UTF8MB4`, fields
`(expr) AS `fN`` joined by `,`, binary operators without spaces, `DIV`/`AND`/`OR` spaced, `MOD` as `%`,
`x + INTERVAL 1 DAY` as `DATE_ADD(x, INTERVAL 1 DAY)`, `SOME` as `ANY`, and so on. This module emits that
final text directly, so generated bug files look like real ones to every downstream reader, and the
mutation engine sees exactly the shapes it will see in real data.

Byte-exact go-randgen output is out of reach (§9.4: it mixes an unseeded global RNG with the grammar RNG),
so this is a faithful *distribution*, not a replay: same rules, same aliases (`t1…`, `f1…` numbered per
query in text order), same vocabulary (the 20 columns and 2 tables of §9, 10 REGEXP patterns, 20 interval
units, the four function families), lengths in the 600–2,000 character range real PINOLO queries have.
Like PINOLO's reports, only queries that run are kept: a draw that could fail with an out-of-range error over
the §9 data is drawn again (see `_Range`), so originals, their mutations and their sqlsim forms all execute
(checked on MariaDB, which lacks only FORMAT_BYTES, a MySQL 8 function kept on purpose).

`all_strategies=True` adds the few shapes impo.yy never emits but that make the other 8 mutators fire
(§0 item 1, §4.1): `SELECT DISTINCT`, unparenthesised two-element `UNION [ALL]`, and LIKE/REGEXP between two
string literals (patterns with `%`, `*`, `+`, `?`, `^`, `$`).

Everything is drawn from one `random.Random(seed)`: the same seed gives the same queries, and the global
RNG is never touched.
"""

from __future__ import annotations

import math
import random
import sys
from dataclasses import dataclass
from typing import Callable

from mutations.formats import COLUMN_SQL_TYPES, COLUMNS, KEY_COLUMNS, TABLES

__all__ = ["QueryGenerator", "GeneratedQuery", "Column", "FUNCTIONS", "REGEXP_PATTERNS", "INTERVAL_UNITS"]

# Result kinds, mapped to the go-sql-driver type names a bug .log prints.
KIND_TYPES: dict[str, str] = {
    "int": "BIGINT",
    "real": "DOUBLE",
    "decimal": "DECIMAL",
    "str": "VARCHAR",
    "bin": "VARBINARY",
    "date": "DATE",
    "datetime": "DATETIME",
    "time": "TIME",
    "null": "NULL",
}


@dataclass(frozen=True, slots=True)
class Column:
    """A result column of a generated query: its alias and a value kind (a key of `KIND_TYPES`)."""

    name: str
    kind: str

    @property
    def type_name(self) -> str:
        """The driver type name PINOLO's .log would show for this column."""
        return KIND_TYPES[self.kind]


@dataclass(frozen=True, slots=True)
class GeneratedQuery:
    """One query: the stage-1 text (no trailing `;`) and the columns its result has."""

    sql: str
    columns: tuple[Column, ...]


# name -> (arity, result kind). Families as in impo.yy: math, time, string, information (§8). Arity 1 for
# ATAN2 is deliberate: impo.yy calls it with one argument.
FUNCTIONS: dict[str, tuple[str, int, str]] = {}


def _register(family: str, kind: str, spec: str) -> None:
    for item in spec.split():
        name, arity = item.split("/")
        FUNCTIONS[name] = (family, int(arity), kind)


_register("math", "real", "ABS/1 ACOS/1 ASIN/1 ATAN/1 ATAN2/1 COS/1 COT/1 DEGREES/1 EXP/1 LN/1 LOG/1 LOG2/1 "
          "LOG10/1 PI/0 RADIANS/1 SIN/1 SQRT/1 TAN/1")
_register("math", "int", "CEIL/1 CEILING/1 CRC32/1 FLOOR/1 ROUND/1 SIGN/1")
_register("time", "int", "DATEDIFF/2 DAY/1 DAYOFMONTH/1 DAYOFWEEK/1 DAYOFYEAR/1 HOUR/1 MICROSECOND/1 MINUTE/1 "
          "MONTH/1 PERIOD_ADD/2 PERIOD_DIFF/2 QUARTER/1 SECOND/1 TIME_TO_SEC/1 TO_DAYS/1 TO_SECONDS/1 "
          "UNIX_TIMESTAMP/1 WEEK/1 WEEKDAY/1 WEEKOFYEAR/1 YEAR/1 YEARWEEK/1")
_register("time", "date", "DATE/1 FROM_DAYS/1 LAST_DAY/1 MAKEDATE/2")
_register("time", "datetime", "FROM_UNIXTIME/1 TIMESTAMP/1")
_register("time", "time", "MAKETIME/3 SEC_TO_TIME/1 TIME/1 TIMEDIFF/2 ADDTIME/2 SUBTIME/2")
_register("time", "str", "DAYNAME/1 MONTHNAME/1")
_register("string", "int", "ASCII/1 BIT_LENGTH/1 CHAR_LENGTH/1 CHARACTER_LENGTH/1 FIELD/3 FIND_IN_SET/2 "
          "INSTR/2 LENGTH/1 LOCATE/2 OCTET_LENGTH/1 ORD/1 STRCMP/2")
_register("string", "str", "BIN/1 CONCAT/2 CONCAT_WS/3 ELT/3 FORMAT/2 HEX/1 LCASE/1 LEFT/2 LOWER/1 LPAD/3 "
          "LTRIM/1 MID/3 OCT/1 QUOTE/1 REPEAT/2 REPLACE/3 REVERSE/1 RIGHT/2 RPAD/3 RTRIM/1 SPACE/1 SUBSTR/3 "
          "SUBSTRING/3 SUBSTRING_INDEX/3 TO_BASE64/1 TRIM/1 UCASE/1 UPPER/1 INSERT/4")
_register("string", "bin", "FROM_BASE64/1 UNHEX/1")
_register("info", "int", "COERCIBILITY/1")
_register("info", "str", "CHARSET/1 COLLATION/1 FORMAT_BYTES/1")

_FUNCTION_NAMES: tuple[str, ...] = tuple(FUNCTIONS)

REGEXP_PATTERNS: tuple[str, ...] = (
    "^[a-z]", "^[0-9]", "[a-z]$", "[0-9]$", "[a-z]+", "[0-9]+", "[a-z]+[a-z]+", "[0-9]+[0-9]+",
    "[a-z]+[0-9]+", "[0-9]+[a-z]+",
)

INTERVAL_UNITS: tuple[str, ...] = (
    "MICROSECOND", "SECOND", "MINUTE", "HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR",
    "SECOND_MICROSECOND", "MINUTE_MICROSECOND", "MINUTE_SECOND", "HOUR_MICROSECOND", "HOUR_SECOND",
    "HOUR_MINUTE", "DAY_MICROSECOND", "DAY_SECOND", "DAY_MINUTE", "DAY_HOUR", "YEAR_MONTH",
)

# go-randgen's `_english` word list (§9.2).
ENGLISH: tuple[str, ...] = tuple(
    "about all and are as at a back because been be but can't can come could didn't did don't do for from get "
    "going good got go had have he's here her hey he him his how I'll I'm if in is it's it i just know like look "
    "mean me my not now no of oh okay ok one on or out really right say see she something some so tell that's "
    "that then there they the think this time to up want was well were we what when who why will with would "
    "yeah yes you're your you".split()
)

_COLUMN_KINDS: dict[str, str] = {}
for _col, _typ in zip(COLUMNS, COLUMN_SQL_TYPES):
    _COLUMN_KINDS[_col] = (
        "int" if _typ == "bigint" else "decimal" if _typ.startswith("decimal") else "str" if "char" in _typ else "real"
    )

_CMP_OPS = ("=", ">=", ">", "<=", "<", "!=")
_BIT_OPS = ("|", "&", "<<", ">>", "+", "-", "*", " DIV ", "%", "^")
_JOIN_TYPES = ("JOIN", "JOIN", "JOIN", "STRAIGHT_JOIN")  # JOIN, CROSS JOIN, INNER JOIN all render as JOIN
_LIKE_WORDS = ("abc", "a_c", "100%", "x", "hello", "0", "1", "abc%", "%z", "well", "3")
_LITERAL_LIKE_PATTERNS = ("a%c", "%0%", "%1%", "a_c", "%b%", "h%o", "%", "%%", "abc", "_%", "w%l", "1%")
_LITERAL_REGEXP_PATTERNS = (
    "^[a-z]+$", "^a*b?c+$", "[0-9]*", "a+b*", "^x?y*$", "[a-z]?[0-9]+", "^[0-9]*$", "b*", "^(ab)+c?$", "[a-z]+",
)

Scope = tuple[Column, ...]


# -- value ranges: only queries that run ----------------------------------------------------------------
#
# PINOLO writes a bug report only for SQL that ran without error on the DBMS: its task loop skips a query whose
# execution fails (reference §6), so the original and the mutated SQL of every real report execute. impo.yy
# itself happily emits overflowing arithmetic (`_int` literals are 63-bit, `~x` is a 64-bit unsigned, strings
# such as HEX(…) can read as 1e300), which MySQL and MariaDB reject with error 1690 (BIGINT [UNSIGNED] or DOUBLE
# value is out of range): EXP(2001), COT(0), `1-~0`, `x*-5464708684795662964`, `f1 MOD 5-10` with `f1` unsigned.
# We cannot execute while generating, so every expression carries a conservative range of the values it can
# take over the §9 data (`_Range`), and a draw that could fail is rejected and drawn again, as if PINOLO had
# dropped the query: the generated queries follow impo.yy's distribution conditioned on running. Mutations only
# change predicates, DISTINCT, UNION and LIKE/REGEXP patterns, i.e. which rows get evaluated, never an
# expression, and the ranges hold for every row of both tables, so mutated and sqlsim forms run too.
# (FORMAT_BYTES stays: it is a MySQL 8 function that MariaDB lacks, deliberately so.)

_I64_MIN, _I64_MAX, _U64_MAX = -(1 << 63), (1 << 63) - 1, (1 << 64) - 1
_DBL_MAX = sys.float_info.max


@dataclass(frozen=True, slots=True)
class _Range:
    """What a generated expression can evaluate to, conservatively, whatever row it is evaluated on.

    `t` is how MySQL computes with it: "int" (BIGINT; temporal values count as "int", the stricter of their
    integer and DECIMAL forms), "dec" (DECIMAL, wide enough never to overflow here), "real" (DOUBLE: doubles and
    every string) or "null" (always NULL, so nothing can fail). `lo`..`hi` bound the non-NULL values and `tiny`
    is the smallest non-zero magnitude (0: unknown, inf: never non-zero). `unsigned` is MySQL's unsigned flag:
    integer arithmetic with an unsigned operand must not go below 0, and DIV checks it whatever the type.
    """

    t: str
    lo: float
    hi: float
    tiny: float
    unsigned: bool = False


_NULL = _Range("null", 0, 0, math.inf)


def _const(value: float, t: str) -> _Range:
    return _Range(t, value, value, abs(value) or math.inf)


def _magnitude(r: _Range) -> float:
    return max(abs(r.lo), abs(r.hi))


def _as_u64(r: _Range) -> tuple[int, int]:
    """The operand of `~`, `|`, `&`, `^`, `<<`, `>>`: rounded, clamped to 64 bits, read as unsigned."""
    lo = max(_I64_MIN, min(_U64_MAX, math.floor(r.lo)))
    hi = max(_I64_MIN, min(_U64_MAX, math.ceil(r.hi)))
    if lo >= 0:
        return lo, hi
    if hi < 0:
        return lo + (1 << 64), hi + (1 << 64)
    return 0, _U64_MAX


def _u64(lo: int, hi: int) -> _Range:
    return _Range("int", lo, hi, 1, unsigned=True)


def _prefix(prefix: str, r: _Range) -> _Range | None:
    """The range of `prefix x`, or None if it can fail."""
    if r.t == "null":
        return _NULL
    if prefix == "!":
        return _Range("int", 0, 1, 1)
    if prefix == "BINARY ":  # a binary string: DOUBLE in arithmetic, same value
        return _Range("real", r.lo, r.hi, r.tiny)
    if prefix == "~":
        lo, hi = _as_u64(r)
        return _u64(_U64_MAX - hi, _U64_MAX - lo)
    # unary minus: `-~x` and `-(x|0)` fail once the unsigned value passes 2^63 (-2^63 has no BIGINT opposite)
    if r.t == "int" and (r.hi > _I64_MAX if r.unsigned else r.lo <= _I64_MIN):
        return None
    return _Range(r.t, -r.hi, -r.lo, r.tiny)


def _arith(op: str, a: _Range, b: _Range) -> _Range | None:
    """The range of `a op b` for one of `_BIT_OPS`, or None if it can fail (error 1690)."""
    if a.t == "null" or b.t == "null":
        return _NULL
    integers = a.t == b.t == "int"
    int_tiny = 1 if a.tiny >= 1 and b.tiny >= 1 else 0
    if op in ("|", "&", "^", "<<", ">>"):  # on 64-bit unsigned integers; never fails
        (alo, ahi), (blo, bhi) = _as_u64(a), _as_u64(b)
        if op == "&":
            return _u64(0, min(ahi, bhi))
        if op in ("|", "^"):
            top = (1 << max(ahi, bhi).bit_length()) - 1
            return _u64(max(alo, blo) if op == "|" else 0, top)
        return _u64(0, ahi if op == ">>" else _U64_MAX if ahi else 0)
    if op == "%":  # |a MOD b| <= |a| and < |b|, with the sign and the unsigned flag of a; never fails
        m = min(_magnitude(a), _magnitude(b))
        t = "real" if "real" in (a.t, b.t) else "dec" if "dec" in (a.t, b.t) else "int"
        return _Range(t, -m if a.lo < 0 else 0, m if a.hi > 0 else 0, int_tiny if integers else 0, a.unsigned)
    if op == " DIV ":
        # a/b truncated to a BIGINT, UNSIGNED if either operand has the flag (even a FLOAT UNSIGNED column);
        # dividing by 0 gives NULL
        unsigned = a.unsigned or b.unsigned
        if b.tiny == math.inf:
            return _NULL
        if b.tiny == 0:  # b may be arbitrarily close to 0
            return _Range("int", 0, 0, math.inf, unsigned) if a.lo == a.hi == 0 else None
        parts = [(max(b.lo, b.tiny), b.hi)] if b.hi >= b.tiny else []
        parts += [(b.lo, min(b.hi, -b.tiny))] if b.lo <= -b.tiny else []
        if not parts:
            return _NULL
        q = [float(x) / y for x in (a.lo, a.hi) for part in parts for y in part]
        qlo, qhi = min(q), max(q)
        fits = -1 < qlo and qhi < 1.8e19 if unsigned else -9.2e18 < qlo and qhi < 9.2e18
        return _Range("int", math.trunc(qlo), math.trunc(qhi), 1, unsigned) if fits else None
    if op == "+":
        lo, hi = a.lo + b.lo, a.hi + b.hi
    elif op == "-":
        lo, hi = a.lo - b.hi, a.hi - b.lo
    else:
        products = [x * y for x in (a.lo, a.hi) for y in (b.lo, b.hi)]
        lo, hi = min(products), max(products)
    if integers:  # BIGINT, UNSIGNED if an operand is: the exact result must fit
        unsigned = a.unsigned or b.unsigned
        ok = 0 <= lo and hi <= _U64_MAX if unsigned else _I64_MIN <= lo and hi <= _I64_MAX
        return _Range("int", lo, hi, int_tiny, unsigned) if ok else None
    t = "real" if "real" in (a.t, b.t) else "dec"
    lo, hi = float(lo), float(hi)
    if not (-_DBL_MAX <= lo and hi <= _DBL_MAX) or t == "dec" and max(-lo, hi) > 1e60:
        return None
    return _Range(t, lo, hi, a.tiny * b.tiny if op == "*" else 0)


def _evaluate(operands: list[_Range], ops: list[str]) -> _Range | None:
    """`x0 op1 x1 [op2 x2]` with MySQL precedence (`^` binds tightest, then `* DIV %`, `+ -`, `<< >>`, `&`, `|`)."""
    if not ops:
        return operands[0]
    if len(ops) == 1:
        return _arith(ops[0], operands[0], operands[1])
    if _PRECEDENCE[ops[1]] > _PRECEDENCE[ops[0]]:
        right = _arith(ops[1], operands[1], operands[2])
        return None if right is None else _arith(ops[0], operands[0], right)
    left = _arith(ops[0], operands[0], operands[1])
    return None if left is None else _arith(ops[1], left, operands[2])


_PRECEDENCE = {"^": 5, "*": 4, " DIV ": 4, "%": 4, "+": 3, "-": 3, "<<": 2, ">>": 2, "&": 1, "|": 0}


def _fixed(t: str, lo: float, hi: float, tiny: float = 1) -> _Range:
    return _Range(t, lo, hi, tiny)


_TEMPORAL_TINY = 1e-6  # fractional seconds
# Results that do not depend on the arguments (bounds from the MySQL/MariaDB manuals, checked on MariaDB).
_FUNCTION_RANGES: dict[str, _Range] = {
    "ACOS": _fixed("real", 0, 3.15, 0), "ASIN": _fixed("real", -1.58, 1.58, 0),
    "ATAN": _fixed("real", -1.58, 1.58, 0), "ATAN2": _fixed("real", -1.58, 1.58, 0),
    "COS": _fixed("real", -1, 1, 0), "SIN": _fixed("real", -1, 1, 0),
    # no double lies within ~4.7e-19 of a multiple of pi/2, so |TAN| stays below ~2.2e18
    "TAN": _fixed("real", -1e19, 1e19, 0),
    "LN": _fixed("real", -1100, 1100, 0), "LOG": _fixed("real", -1100, 1100, 0),
    "LOG2": _fixed("real", -1100, 1100, 0), "LOG10": _fixed("real", -1100, 1100, 0),
    "PI": _const(math.pi, "real"), "SIGN": _fixed("int", -1, 1), "CRC32": _u64(0, (1 << 32) - 1),
    "DATEDIFF": _fixed("int", -3652500, 3652500), "DAY": _fixed("int", 0, 31), "DAYOFMONTH": _fixed("int", 0, 31),
    "DAYOFWEEK": _fixed("int", 0, 7), "DAYOFYEAR": _fixed("int", 0, 366), "HOUR": _fixed("int", 0, 838),
    "MICROSECOND": _fixed("int", 0, 999999), "MINUTE": _fixed("int", 0, 59), "MONTH": _fixed("int", 0, 12),
    "PERIOD_ADD": _fixed("int", -10**12, 10**12), "PERIOD_DIFF": _fixed("int", -10**12, 10**12),
    "QUARTER": _fixed("int", 0, 4), "SECOND": _fixed("int", 0, 59),
    "TIME_TO_SEC": _fixed("int", -3020400, 3020400, _TEMPORAL_TINY), "TO_DAYS": _fixed("int", 0, 3652500),
    "TO_SECONDS": _fixed("int", 0, 315569520000), "UNIX_TIMESTAMP": _fixed("int", 0, 1 << 32, _TEMPORAL_TINY),
    "WEEK": _fixed("int", 0, 53), "WEEKDAY": _fixed("int", 0, 6), "WEEKOFYEAR": _fixed("int", 0, 53),
    "YEAR": _fixed("int", 0, 9999), "YEARWEEK": _fixed("int", 0, 999953),
    # DATE/DATETIME/TIME values read as YYYYMMDD[hhmmss[.ffffff]] or [-]hhhmmss[.ffffff]
    "DATE": _fixed("int", 0, 99991231), "FROM_DAYS": _fixed("int", 0, 99991231),
    "LAST_DAY": _fixed("int", 0, 99991231), "MAKEDATE": _fixed("int", 0, 99991231),
    "FROM_UNIXTIME": _fixed("int", 0, 99991231235960, _TEMPORAL_TINY),
    "TIMESTAMP": _fixed("int", 0, 99991231235960, _TEMPORAL_TINY),
    "ADDTIME": _fixed("int", -8385960, 99991231235960, _TEMPORAL_TINY),
    "SUBTIME": _fixed("int", -8385960, 99991231235960, _TEMPORAL_TINY),
    "MAKETIME": _fixed("int", -8385960, 8385960, _TEMPORAL_TINY),
    "SEC_TO_TIME": _fixed("int", -8385960, 8385960, _TEMPORAL_TINY),
    "TIME": _fixed("int", -8385960, 8385960, _TEMPORAL_TINY),
    "TIMEDIFF": _fixed("int", -8385960, 8385960, _TEMPORAL_TINY),
    "ASCII": _fixed("int", 0, 255), "BIT_LENGTH": _fixed("int", 0, 1 << 35), "CHAR_LENGTH": _fixed("int", 0, 1 << 32),
    "CHARACTER_LENGTH": _fixed("int", 0, 1 << 32), "FIELD": _fixed("int", 0, 2), "FIND_IN_SET": _fixed("int", 0, 1 << 32),
    "INSTR": _fixed("int", 0, 1 << 32), "LENGTH": _fixed("int", 0, 1 << 32), "LOCATE": _fixed("int", 0, 1 << 32),
    "OCTET_LENGTH": _fixed("int", 0, 1 << 32), "ORD": _fixed("int", 0, 1 << 32), "STRCMP": _fixed("int", -1, 1),
    "COERCIBILITY": _fixed("int", 0, 6),
    # strings read as numbers: letters, a leading quote or spaces read as 0; FORMAT's thousands separator ends
    # the number; BIN and OCT are at most 64 and 22 digits
    "DAYNAME": _const(0, "real"), "MONTHNAME": _const(0, "real"), "CHARSET": _const(0, "real"),
    "COLLATION": _const(0, "real"), "QUOTE": _const(0, "real"), "SPACE": _const(0, "real"),
    "FORMAT": _fixed("real", -1000, 1000, 0), "FORMAT_BYTES": _fixed("real", -1024, 1024, 0),
    "BIN": _fixed("real", 0, 1.2e64), "OCT": _fixed("real", 0, 1e22),
}
# Any other string (HEX, CONCAT, REPEAT, LPAD, SUBSTR, REVERSE…) may read as any DOUBLE: digits of any length,
# or a digit, an E and more digits (HEX(480) = '1E0'), up to DBL_MAX.
_ANY_DOUBLE = _Range("real", -_DBL_MAX, _DBL_MAX, 0)
_SAME_VALUE = frozenset(("LCASE", "LOWER", "UCASE", "UPPER", "LTRIM", "RTRIM", "TRIM"))  # same text, same number


def _call(name: str, args: list[_Range]) -> _Range | None:
    """The range of `name(args)`, or None if it can fail (EXP, COT and DEGREES can overflow a DOUBLE)."""
    fixed = _FUNCTION_RANGES.get(name)
    if fixed is not None:
        return fixed
    if name == "ELT":  # the text of one of its last two arguments
        values = [a for a in args[1:] if a.t != "null"]
        if not values:
            return _NULL
        return _Range("real", min(a.lo for a in values), max(a.hi for a in values), min(a.tiny for a in values))
    if FUNCTIONS[name][2] in ("str", "bin") and name not in _SAME_VALUE:
        return _ANY_DOUBLE
    x = args[0]
    if x.t == "null":
        return _NULL
    if name in _SAME_VALUE:
        return _Range("real", x.lo, x.hi, x.tiny)
    if name == "ABS":
        if x.t == "int" and x.lo <= _I64_MIN:
            return None
        lo = 0 if x.lo <= 0 <= x.hi else min(abs(x.lo), abs(x.hi))
        return _Range(x.t, lo, _magnitude(x), x.tiny, x.unsigned)
    if name in ("CEIL", "CEILING", "FLOOR", "ROUND"):  # integral, same flag; a DECIMAL may come back a BIGINT
        if x.t == "real":
            return _Range("real", float(math.floor(x.lo)), float(math.ceil(x.hi)), 1, x.unsigned)
        return _Range("int", math.floor(x.lo), math.ceil(x.hi), 1, x.unsigned)
    if name == "SQRT":
        return _Range("real", 0, math.sqrt(max(x.hi, 0)), 0)
    if name in ("DEGREES", "RADIANS"):
        factor = 57.3 if name == "DEGREES" else 1 / 57.2
        lo, hi = float(x.lo) * factor, float(x.hi) * factor
        return _Range("real", lo, hi, 0) if math.isfinite(lo) and math.isfinite(hi) else None
    if name == "EXP":  # EXP(709.79) is already out of range
        return _Range("real", 0, math.exp(x.hi), 0) if x.hi <= 709 else None
    if name == "COT":  # COT(0) is out of range, and so is 1/x for |x| below ~5.6e-309
        nearest = x.lo if x.lo > 0 else -x.hi if x.hi < 0 else 0
        if nearest < 1e-300:
            return None
        bound = max(1e19, 1 / nearest)
        return _Range("real", -bound, bound, 0)
    raise AssertionError(f"no range for {name}")


def _column_range(name: str, sql_type: str) -> _Range:
    """§9.1: numeric columns hold tinyint/smallint draws, a few constants or 0..100.1999 decimals, so they stay
    within [-32768, 32767] (unsigned ones >= 0), non-zero ones at least 0.0001 (a FLOAT keeps 9.99999975e-05);
    strings are a letter, a word, '0', '-0', '1', '-1' or a 3 with a tab or newline: they read as -1..3."""
    if "char" in sql_type:
        return _Range("real", -1, 3, 1)
    unsigned = name.endswith("_unsigned")
    lo = 0 if unsigned else -32768
    if sql_type == "bigint":
        return _Range("int", lo, 32767, 1, unsigned)
    return _Range("dec" if sql_type.startswith("decimal") else "real", lo, 32767, 9.9e-5, unsigned)


_COLUMN_RANGES: dict[str, _Range] = {c: _column_range(c, t) for c, t in zip(COLUMNS, COLUMN_SQL_TYPES)}


class QueryGenerator:
    """Deterministic generator of impo.yy-shaped, stage-1-rendered queries.

    `query()` gives the SQL text; `generate()` also gives the result columns (alias and kind), which the
    fixture generator uses to make plausible bug results.
    """

    def __init__(self, seed: int, all_strategies: bool = False) -> None:
        self.rng = random.Random(seed)
        self.all_strategies = all_strategies
        self._t = 0
        self._f = 0
        self._ranges: dict[str, _Range] = {}  # alias -> the values it can hold (see `_Range`)

    # -- public ------------------------------------------------------------------------------------------

    def query(self) -> str:
        """The next query's text."""
        return self.generate().sql

    def generate(self) -> GeneratedQuery:
        """The next query with its result columns. Aliases restart at t1/f1 for every query."""
        self._t = 0
        self._f = 0
        self._ranges = {}
        r = self.rng.random()
        if r < 0.14:
            body, cols = self._setopr_list(in_with=True)
            return GeneratedQuery(f"WITH `MYWITH` AS ({body}) SELECT * FROM `MYWITH`", cols)
        body, cols = self._setopr_list(in_with=False)
        return GeneratedQuery(body, cols)

    # -- structure ---------------------------------------------------------------------------------------

    def _new_t(self) -> str:
        self._t += 1
        return f"t{self._t}"

    def _new_f(self) -> str:
        self._f += 1
        return f"f{self._f}"

    def _setopr_list(self, in_with: bool) -> tuple[str, Scope]:
        rng = self.rng
        r = rng.random()
        if self.all_strategies and r < 0.16:
            # Unparenthesised two-element union: the shape PINOLO's own tests use, where FixMUnionAllU/L and
            # FixMRmUnionAllL fire (§4.1). No ORDER BY inside: MySQL forbids it before UNION.
            left, cols = self._select2(allow_order=False)
            right, _ = self._select2(allow_order=False)
            op = "UNION ALL" if rng.random() < 0.55 else "UNION"
            return f"{left} {op} {right}", cols
        if r < 0.30:
            left, cols = self._select2(allow_order=True)
            right, _ = self._select2(allow_order=True)
            op = "UNION ALL" if rng.random() < 0.5 else "UNION"
            return f"({left}) {op} ({right})", cols
        return self._select2(allow_order=True)

    def _select_keyword(self) -> str:
        if self.all_strategies and self.rng.random() < 0.12:
            return "SELECT DISTINCT "
        return "SELECT "

    def _select2(self, allow_order: bool) -> tuple[str, Scope]:
        if self.rng.random() < 0.3:
            return self._join_select()
        return self._select(allow_order)

    def _fieldlist(self, names: list[str], scope: Scope) -> tuple[str, Scope]:
        parts: list[str] = []
        cols: list[Column] = []
        for name in names:
            text, kind, values = self._bit_expr(scope)
            parts.append(f"({text}) AS `{name}`")
            cols.append(Column(name, kind))
            self._ranges[name] = values
        return ",".join(parts), tuple(cols)

    def _select(self, allow_order: bool) -> tuple[str, Scope]:
        """`SELECT fieldlist FROM (tablename) AS tN [WHERE …] [HAVING …] [ORDER BY fX]`."""
        rng = self.rng
        keyword = self._select_keyword()
        names = [self._new_f() for _ in range(3)]
        t = self._new_t()
        inner, inner_scope = self._tablename()
        fields, cols = self._fieldlist(names, inner_scope)
        sql = f"{keyword}{fields} FROM ({inner}) AS `{t}`"
        if rng.random() < 0.75:
            sql += " WHERE " + self._explicitp(inner_scope)
        if rng.random() < 0.68:
            sql += " HAVING " + self._explicitp(cols)
        if allow_order and rng.random() < 0.25:
            sql += f" ORDER BY `{rng.choice(names)}`"
        return sql, cols

    def _join_select(self) -> tuple[str, Scope]:
        """`SELECT fieldlist FROM tablesource jointype tablesource [ON …]` or `… NATURAL JOIN …`."""
        rng = self.rng
        keyword = self._select_keyword()
        names = [self._new_f() for _ in range(3)]
        left, left_scope = self._tablesource()
        right, right_scope = self._tablesource()
        scope = left_scope + right_scope
        if rng.random() < 0.15:
            join = f"{left} NATURAL JOIN {right}"
        else:
            join = f"{left} {rng.choice(_JOIN_TYPES)} {right}"
            if rng.random() < 0.75:
                join += " ON " + self._explicitp(scope)
        fields, cols = self._fieldlist(names, scope)
        return f"{keyword}{fields} FROM {join}", cols

    def _tablesource(self) -> tuple[str, Scope]:
        t = self._new_t()
        if self.rng.random() < 0.35:
            inner, scope = self._select(allow_order=True)
        else:
            inner, scope = self._tablename()
        return f"({inner}) AS `{t}`", scope

    def _tablename(self) -> tuple[str, Scope]:
        """`SELECT `col` AS `fA`,`col` AS `fB`,`col` AS `fC` FROM `table` [index hint]`."""
        rng = self.rng
        parts: list[str] = []
        cols: list[Column] = []
        for _ in range(3):
            col = rng.choice(COLUMNS)
            name = self._new_f()
            parts.append(f"`{col}` AS `{name}`")
            cols.append(Column(name, _COLUMN_KINDS[col]))
            self._ranges[name] = _COLUMN_RANGES[col]
        return f"SELECT {','.join(parts)} FROM `{rng.choice(TABLES)}`{self._hints()}", tuple(cols)

    def _hints(self) -> str:
        rng = self.rng
        r = rng.random()
        if r < 0.4:
            return ""
        kind = "USE" if r < 0.7 else "IGNORE" if r < 0.85 else "FORCE"
        keys = [rng.choice(KEY_COLUMNS) for _ in range(rng.choice((1, 2)))]
        return f" {kind} INDEX (" + ", ".join(f"`{k}`" for k in keys) + ")"

    def _subquery(self, ncols: int = 1) -> str:
        rng = self.rng
        keyword = self._select_keyword()
        cols = ",".join(f"`{rng.choice(COLUMNS)}`" for _ in range(ncols))
        return f"({keyword}{cols} FROM `{rng.choice(TABLES)}`{self._hints()})"

    # -- predicates --------------------------------------------------------------------------------------

    def _explicitp(self, scope: Scope) -> str:
        r = self.rng.random()
        e = self._expr(scope)
        if r < 0.6:
            return e
        return f"({e}) IS TRUE" if r < 0.8 else f"({e}) IS FALSE"

    def _expr(self, scope: Scope) -> str:
        x: Callable[[], str] = lambda: self._expr01(scope)  # noqa: E731 - local shorthand
        shape = self.rng.randrange(9)
        if shape == 0:
            return x()
        if shape == 1:
            return f"{x()} AND {x()}"
        if shape == 2:
            return f"{x()} OR {x()}"
        if shape == 3:
            return f"{x()} AND {x()} AND {x()}"
        if shape == 4:
            return f"{x()} OR {x()} OR {x()}"
        if shape == 5:
            return f"{x()} AND {x()} OR {x()}"
        if shape == 6:
            return f"{x()} OR {x()} AND {x()}"
        if shape == 7:
            return f"({x()} OR {x()}) AND ({x()} OR {x()})"
        return f"({x()} AND {x()}) OR ({x()} AND {x()})"

    def _expr01(self, scope: Scope) -> str:
        r = self.rng.random()
        bp = self._boolean_primary(scope)
        if r < 0.55:
            return bp
        if r < 0.7:
            return f"NOT ({bp})"
        return f"({bp}) IS TRUE" if r < 0.85 else f"({bp}) IS FALSE"

    def _boolean_primary(self, scope: Scope) -> str:
        rng = self.rng
        if self.all_strategies and rng.random() < 0.1:
            return self._literal_pattern()
        r = rng.random()
        if r < 0.08:
            return self._bit_expr(scope)[0]
        if r < 0.38:
            return f"({self._bit_expr(scope)[0]}){rng.choice(_CMP_OPS)}({self._bit_expr(scope)[0]})"
        if r < 0.46:
            quant = "ALL" if rng.random() < 0.4 else "ANY"  # SOME renders as ANY
            return f"({self._bit_expr(scope)[0]}){rng.choice(_CMP_OPS)}{quant} {self._subquery()}"
        if r < 0.51:
            return f"EXISTS {self._subquery()}"
        if r < 0.59:
            return f"({self._bit_expr(scope)[0]}){self._not()} IN {self._subquery()}"
        if r < 0.64:
            a, b = self._bit_expr(scope)[0], self._bit_expr(scope)[0]
            return f"ROW({a},{b}){self._not()} IN {self._subquery(2)}"
        if r < 0.74:
            items = ",".join(self._simple_expr(scope)[0] for _ in range(3))
            return f"({self._bit_expr(scope)[0]}){self._not()} IN ({items})"
        if r < 0.82:
            s = [self._simple_expr(scope)[0] for _ in range(3)]
            return f"({s[0]}){self._not()} BETWEEN {s[1]} AND {s[2]}"
        if r < 0.91:
            pattern = rng.choice(("%0%", "%1%"))
            return f"CAST(({self._simple_expr(scope)[0]}) AS CHAR){self._not()} LIKE _UTF8MB4'{pattern}'"
        pattern = rng.choice(REGEXP_PATTERNS)
        return f"CAST(({self._simple_expr(scope)[0]}) AS CHAR){self._not()} REGEXP _UTF8MB4'{pattern}'"

    def _not(self) -> str:
        return " NOT" if self.rng.random() < 0.3 else ""

    def _literal_pattern(self) -> str:
        """LIKE/REGEXP between two string literals: the only shape the four RdM* mutators accept (§4)."""
        rng = self.rng
        if rng.random() < 0.5:
            left = rng.choice(_LIKE_WORDS)
            return f"_UTF8MB4'{left}'{self._not()} LIKE _UTF8MB4'{rng.choice(_LITERAL_LIKE_PATTERNS)}'"
        left = rng.choice(_LIKE_WORDS + ("abbc", "xyy", "123"))
        return f"_UTF8MB4'{left}'{self._not()} REGEXP _UTF8MB4'{rng.choice(_LITERAL_REGEXP_PATTERNS)}'"

    # -- expressions -------------------------------------------------------------------------------------

    def _bit_expr(self, scope: Scope) -> tuple[str, str, _Range]:
        """Text, result kind and value range; a draw that could fail at run time is drawn again (`_Range`)."""
        rng = self.rng
        while True:
            r = rng.random()
            if r < 0.08:
                x = self._simple_expr(scope)[0]
                fn = "DATE_ADD" if rng.random() < 0.6 else "DATE_SUB"
                # NULL, or a date/datetime/time: a temporal argument keeps its type (an integer in arithmetic)
                return (f"{fn}({x}, INTERVAL 1 {rng.choice(INTERVAL_UNITS)})", "datetime",
                        _Range("int", -8385960, 99991231235960, _TEMPORAL_TINY))
            n = 1 if r < 0.55 else 2 if r < 0.85 else 3
            text, kind, value = self._simple_expr(scope)
            operands, ops = [value], []
            for _ in range(n - 1):
                op = rng.choice(_BIT_OPS)
                right, rkind, rvalue = self._simple_expr(scope)
                if right.startswith("-") and op in ("-", "+"):
                    op = "*"  # `a--1` would read as a comment start to some parsers; PINOLO never emits it
                text = f"{text}{op}{right}"
                kind = _arith_kind(op, kind, rkind)
                operands.append(rvalue)
                ops.append(op)
            result = _evaluate(operands, ops)
            if result is not None:
                return text, kind, result

    def _simple_expr(self, scope: Scope, depth: int = 0) -> tuple[str, str, _Range]:
        """Text, result kind and value range; a draw that could fail at run time is drawn again (`_Range`)."""
        rng = self.rng
        while True:
            r = rng.random()
            value: _Range | None
            if r < 0.3 or (depth >= 2 and r < 0.6):
                text, kind, value = self._literal()
            elif r < 0.62 or depth >= 2:
                col = rng.choice(scope)
                text, kind, value = f"`{col.name}`", col.kind, self._ranges[col.name]
            else:
                name = rng.choice(_FUNCTION_NAMES)
                _, arity, kind = FUNCTIONS[name]
                args = [self._simple_expr(scope, depth + 1) for _ in range(arity)]
                text = f"{name}({', '.join(arg[0] for arg in args)})"
                value = _call(name, [arg[2] for arg in args])
            if rng.random() < 0.12:
                prefix = rng.choice(("-", "~", "!", "BINARY "))
                if prefix == "-" and text.startswith("-"):
                    prefix = "~"
                text = prefix + text
                kind = "bin" if prefix == "BINARY " else "int" if prefix in ("~", "!") else kind
                value = None if value is None else _prefix(prefix, value)
            if value is not None:
                return text, kind, value

    def _literal(self) -> tuple[str, str, _Range]:
        """Text, kind and value; a string literal reads as its leading number (a date as its year), else 0."""
        rng = self.rng
        r = rng.random()
        if r < 0.12:
            return f"_UTF8MB4'{chr(97 + rng.randrange(26))}'", "str", _const(0, "real")
        if r < 0.22:
            return "_UTF8MB4'" + rng.choice(ENGLISH).replace("'", "''") + "'", "str", _const(0, "real")
        if r < 0.34:
            digit = rng.randrange(10)
            return str(digit), "int", _const(digit, "int")
        if r < 0.44:
            value = rng.getrandbits(63) * (1 if rng.random() < 0.5 else -1)
            return str(value), "int", _const(value, "int")
        if r < 0.52:
            number = rng.random()
            text = repr(number)
            return text, "real", _const(number, "real" if "e" in text else "dec")  # 1e-05 is a DOUBLE literal
        # Date/time strings are still strings to MySQL: the column type is VARCHAR.
        if r < 0.60:
            date = self._date()
            return f"_UTF8MB4'{date}'", "str", _const(int(date[:4]), "real")
        if r < 0.66:
            time = self._time()
            return f"_UTF8MB4'{time}'", "str", _const(int(time[:2]), "real")
        if r < 0.74:
            date = self._date()
            return f"_UTF8MB4'{date} {self._time()}'", "str", _const(int(date[:4]), "real")
        if r < 0.78:
            year = 2000 + rng.randrange(20)
            return f"_UTF8MB4'{year}'", "str", _const(year, "real")
        if r < 0.90:
            bit = rng.choice((0, 1))
            return str(bit), "int", _const(bit, "int")
        return "NULL", "null", _NULL

    def _date(self) -> str:
        rng = self.rng
        return f"{2000 + rng.randrange(20)}-{1 + rng.randrange(12):02d}-{1 + rng.randrange(28):02d}"

    def _time(self) -> str:
        rng = self.rng
        return f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"


def _arith_kind(op: str, left: str, right: str) -> str:
    """Rough MySQL result type of `left op right`, good enough for a plausible .log column type."""
    if op in ("|", "&", "<<", ">>", "^", " DIV "):
        return "int"
    kinds = {left, right}
    if "null" in kinds and len(kinds) == 1:
        return "null"
    if kinds & {"real", "str", "bin", "date", "datetime", "time"}:
        return "real"
    if "decimal" in kinds:
        return "decimal"
    return "int"
