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

`all_strategies=True` adds the few shapes impo.yy never emits but that make the other 8 mutators fire
(§0 item 1, §4.1): `SELECT DISTINCT`, unparenthesised two-element `UNION [ALL]`, and LIKE/REGEXP between two
string literals (patterns with `%`, `*`, `+`, `?`, `^`, `$`).

Everything is drawn from one `random.Random(seed)`: the same seed gives the same queries, and the global
RNG is never touched.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

from .formats import COLUMN_SQL_TYPES, COLUMNS, KEY_COLUMNS, TABLES

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

    # -- public ------------------------------------------------------------------------------------------

    def query(self) -> str:
        """The next query's text."""
        return self.generate().sql

    def generate(self) -> GeneratedQuery:
        """The next query with its result columns. Aliases restart at t1/f1 for every query."""
        self._t = 0
        self._f = 0
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
            text, kind = self._bit_expr(scope)
            parts.append(f"({text}) AS `{name}`")
            cols.append(Column(name, kind))
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

    def _bit_expr(self, scope: Scope) -> tuple[str, str]:
        rng = self.rng
        r = rng.random()
        if r < 0.08:
            x, kind = self._simple_expr(scope)
            fn = "DATE_ADD" if rng.random() < 0.6 else "DATE_SUB"
            return f"{fn}({x}, INTERVAL 1 {rng.choice(INTERVAL_UNITS)})", "datetime"
        n = 1 if r < 0.55 else 2 if r < 0.85 else 3
        text, kind = self._simple_expr(scope)
        for _ in range(n - 1):
            op = rng.choice(_BIT_OPS)
            right, rkind = self._simple_expr(scope)
            if right.startswith("-") and op in ("-", "+"):
                op = "*"  # `a--1` would read as a comment start to some parsers; PINOLO never emits it
            text = f"{text}{op}{right}"
            kind = _arith_kind(op, kind, rkind)
        return text, kind

    def _simple_expr(self, scope: Scope, depth: int = 0) -> tuple[str, str]:
        rng = self.rng
        r = rng.random()
        if r < 0.3 or (depth >= 2 and r < 0.6):
            text, kind = self._literal()
        elif r < 0.62 or depth >= 2:
            col = rng.choice(scope)
            text, kind = f"`{col.name}`", col.kind
        else:
            name = rng.choice(_FUNCTION_NAMES)
            _, arity, kind = FUNCTIONS[name]
            args = ", ".join(self._simple_expr(scope, depth + 1)[0] for _ in range(arity))
            text = f"{name}({args})"
        if rng.random() < 0.12:
            prefix = rng.choice(("-", "~", "!", "BINARY "))
            if prefix == "-" and text.startswith("-"):
                prefix = "~"
            text = prefix + text
            kind = "bin" if prefix == "BINARY " else "int" if prefix in ("~", "!") else kind
        return text, kind

    def _literal(self) -> tuple[str, str]:
        rng = self.rng
        r = rng.random()
        if r < 0.12:
            return f"_UTF8MB4'{chr(97 + rng.randrange(26))}'", "str"
        if r < 0.22:
            return "_UTF8MB4'" + rng.choice(ENGLISH).replace("'", "''") + "'", "str"
        if r < 0.34:
            return str(rng.randrange(10)), "int"
        if r < 0.44:
            value = rng.getrandbits(63) * (1 if rng.random() < 0.5 else -1)
            return str(value), "int"
        if r < 0.52:
            return repr(rng.random()), "real"
        # Date/time strings are still strings to MySQL: the column type is VARCHAR.
        if r < 0.60:
            return f"_UTF8MB4'{self._date()}'", "str"
        if r < 0.66:
            return f"_UTF8MB4'{self._time()}'", "str"
        if r < 0.74:
            return f"_UTF8MB4'{self._date()} {self._time()}'", "str"
        if r < 0.78:
            return f"_UTF8MB4'{2000 + rng.randrange(20)}'", "str"
        if r < 0.90:
            return rng.choice(("0", "1")), "int"
        return "NULL", "null"

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
