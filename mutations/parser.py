"""A recursive-descent reader for MySQL-dialect SELECT statements as PINOLO renders them.

It builds only the structure PINOLO's stage-2 visitor walks (reference §3): query blocks, set operations,
WITH, the FROM join tree, and the predicate skeleton of WHERE/HAVING/ON (AND/OR/NOT/IS TRUE/comparisons/
IN/EXISTS/LIKE/REGEXP). Everything the visitor never enters (select lists, comparison operands, function
arguments, GROUP BY, ORDER BY, LIMIT) is skipped over as a balanced token range, and parenthesised groups
are parsed lazily, only when the visitor reaches them. That keeps a 2,000-character query well under a
millisecond, and every node keeps token positions so mutations can be applied as exact text edits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import SqlSyntaxError
from .tokens import Tokens, tokenize

COMPARISON_OPS = frozenset({"=", ">=", ">", "<=", "<", "!=", "<=>"})
QUANTIFIERS = frozenset({"ANY", "SOME", "ALL"})
BINARY_OPS = frozenset({"|", "&", "<<", ">>", "+", "-", "*", "/", "DIV", "MOD", "%", "^", "->", "->>"})
UNARY_OPS = frozenset({"!", "-", "+", "~", "BINARY"})
SET_OPS = frozenset({"UNION", "EXCEPT", "INTERSECT"})
SELECT_OPTIONS = frozenset(
    {
        "HIGH_PRIORITY",
        "STRAIGHT_JOIN",
        "SQL_SMALL_RESULT",
        "SQL_BIG_RESULT",
        "SQL_BUFFER_RESULT",
        "SQL_NO_CACHE",
        "SQL_CACHE",
        "SQL_CALC_FOUND_ROWS",
    }
)
# Tokens that end a select list, GROUP BY, ORDER BY, LIMIT … when met at parenthesis depth 0.
CLAUSE_KEYWORDS = frozenset(
    {"FROM", "WHERE", "GROUP", "HAVING", "WINDOW", "ORDER", "LIMIT", "INTO", "FOR", "LOCK", ";", ")"}
    | SET_OPS
)
JOIN_STARTERS = frozenset({"JOIN", "INNER", "CROSS", "STRAIGHT_JOIN", "LEFT", "RIGHT", "NATURAL"})
HINT_STARTERS = frozenset({"USE", "IGNORE", "FORCE"})
TIME_UNITS = frozenset(
    {
        "MICROSECOND", "SECOND", "MINUTE", "HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR",
        "SECOND_MICROSECOND", "MINUTE_MICROSECOND", "MINUTE_SECOND", "HOUR_MICROSECOND", "HOUR_SECOND",
        "HOUR_MINUTE", "DAY_MICROSECOND", "DAY_SECOND", "DAY_MINUTE", "DAY_HOUR", "YEAR_MONTH",
    }
)
# Typed temporal literals: the keyword followed by a string, read as one opaque operand.
TEMPORAL_LITERALS = frozenset({"DATE", "TIME", "TIMESTAMP"})
# Words that can never start an operand: meeting one means the expression is missing.
NOT_AN_OPERAND = frozenset(
    {
        "FROM", "WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "UNION", "EXCEPT", "INTERSECT", "ON", "USING",
        "JOIN", "INNER", "CROSS", "LEFT", "RIGHT", "NATURAL", "STRAIGHT_JOIN", "AND", "OR", "XOR", "IS",
        "IN", "LIKE", "REGEXP", "RLIKE", "BETWEEN", "AS", "SELECT", "WITH", "WINDOW", "INTO", "THEN",
        "WHEN", "ELSE", "END", "DIV", "MOD", "ALL", "ANY", "SOME", "DISTINCT", "BY", "ASC", "DESC", "FOR",
        "LOCK", "ESCAPE", ")", ",", ";", "=", ">=", ">", "<=", "<", "!=", "<=>", "*", "/", "%", "|", "&",
        "^", "<<", ">>",
    }
)
# Keywords that are also function names when a '(' follows: LEFT(s, n), RIGHT(s, n), MOD(a, b).
FUNCTION_KEYWORDS = frozenset({"LEFT", "RIGHT", "MOD"})
ALIAS_FORBIDDEN = NOT_AN_OPERAND | JOIN_STARTERS | HINT_STARTERS | {"PARTITION", "KEY", "INDEX"}


# ---------------------------------------------------------------------------------------------------------
# Nodes. Token ranges are half-open [first, last).
# ---------------------------------------------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class Expr:
    """A predicate-level expression node; `kind` says which of the visitor's cases it is."""

    kind: str
    first: int
    last: int
    left: Expr | None = None
    right: Expr | None = None
    op: int = -1  # token index of the comparison operator, or of the closing ')' of an IN list
    negated: bool = False
    is_false: bool = False
    quantifier: str = ""
    group: int = -1  # token index of '(' of a lazily parsed group or subquery
    bangs: int = 0  # leading '!' operators of an opaque operand
    plain: bool = False  # an opaque operand with no binary operator and no unary other than '!'
    primary: str = ""  # for opaque operands: "group", "exists", "string" or "other"


@dataclass(slots=True, eq=False)
class SetOperator:
    first: int
    last: int
    kind: str  # UNION, EXCEPT or INTERSECT
    is_all: bool


@dataclass(slots=True, eq=False)
class Select:
    first: int
    last: int
    select_token: int
    distinct_token: int | None = None
    all_token: int | None = None
    from_: TableRef | None = None
    where: Expr | None = None
    having: Expr | None = None
    order_by: tuple[int, int] | None = None
    limit: tuple[int, int] | None = None
    with_: With | None = None
    after_op: SetOperator | None = None


@dataclass(slots=True, eq=False)
class SetOp:
    first: int
    last: int
    elements: list[Query]
    operators: list[SetOperator]
    with_: With | None = None
    order_by: tuple[int, int] | None = None
    limit: tuple[int, int] | None = None


@dataclass(slots=True, eq=False)
class ParenQuery:
    first: int
    last: int
    inner: Query
    with_: With | None = None
    order_by: tuple[int, int] | None = None
    limit: tuple[int, int] | None = None


Query = Select | SetOp | ParenQuery


@dataclass(slots=True, eq=False)
class Cte:
    name: str
    body: Query
    first: int
    last: int


@dataclass(slots=True, eq=False)
class With:
    first: int
    last: int
    recursive: bool
    ctes: list[Cte] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class TableRef:
    kind: str  # "table", "derived", "join", "paren"
    first: int
    last: int
    query: Query | None = None
    left: TableRef | None = None
    right: TableRef | None = None
    join_type: str = ""  # JOIN, STRAIGHT_JOIN, NATURAL, LEFT, RIGHT, COMMA
    on: Expr | None = None
    on_token: int = -1
    hints: list[tuple[int, int]] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------------


class Parser:
    """Parses one statement. Use `parse(sql)`; the instance also serves lazy parses of groups later."""

    def __init__(self, tokens: Tokens) -> None:
        self.tokens = tokens
        self.keys = tokens.keys + ["<EOF>", "<EOF>", "<EOF>"]
        self.n = len(tokens.keys)
        self.pos = 0
        self.selects: list[Select] = []
        self.matching = self._match_parentheses()
        self._group_cache: dict[int, Query | Expr | None] = {}

    # -- helpers -----------------------------------------------------------------------------------------

    def _match_parentheses(self) -> list[int]:
        matching = [-1] * self.n
        stack: list[int] = []
        for index, key in enumerate(self.tokens.keys):
            if key == "(":
                stack.append(index)
            elif key == ")":
                if not stack:
                    self.error("unbalanced ')'", index)
                matching[stack.pop()] = index
        if stack:
            self.error("'(' is never closed", stack[-1])
        return matching

    def error(self, message: str, index: int | None = None) -> None:
        index = self.pos if index is None else index
        if index >= self.n:
            offset = len(self.tokens.sql)
            message += " (at end of statement)"
        else:
            offset = self.tokens.starts[index]
            message += f" near {self.tokens.text(index, index + 1)!r}"
        raise SqlSyntaxError(message, self.tokens.sql, offset)

    def expect(self, key: str) -> int:
        if self.keys[self.pos] != key:
            self.error(f"expected {key}")
        self.pos += 1
        return self.pos - 1

    def skip_clause(self) -> None:
        """Advance over a clause we never look into, up to the next clause keyword at depth 0."""
        keys = self.keys
        matching = self.matching
        pos = self.pos
        n = self.n
        while pos < n:
            key = keys[pos]
            if key == "(":
                pos = matching[pos] + 1
                continue
            if key in CLAUSE_KEYWORDS:
                break
            pos += 1
        self.pos = pos

    def starts_query(self, index: int) -> bool:
        """True if the tokens at `index` open a query: SELECT, WITH, or '(' … leading to one of them."""
        keys = self.keys
        while keys[index] == "(":
            index += 1
        return keys[index] in ("SELECT", "WITH")

    # -- statements --------------------------------------------------------------------------------------

    def parse_statement(self) -> Query:
        if self.n == 0:
            raise SqlSyntaxError("empty statement", self.tokens.sql, 0)
        if not self.starts_query(0):
            self.error("not a SELECT statement: expected SELECT, WITH or '('", 0)
        self.refuse_side_effects()
        query = self.parse_query()
        if self.keys[self.pos] == ";":
            self.pos += 1
        if self.pos < self.n:
            if self.keys[self.pos - 1] == ";":
                self.error("more than one statement", self.pos)
            self.error("unexpected text after the end of the query")
        return query

    def refuse_side_effects(self) -> None:
        """Refuse the two SELECT forms that write instead of only reading, wherever they stand in the first
        statement (a second statement is reported as such by the parse): such a query is no PINOLO query,
        and its result set is not what the oracle compares."""
        keys = self.tokens.keys
        # The common case, from the text: a key INTO is a word whose upper-cased text is INTO, and upper-casing
        # goes character by character, so the upper-cased statement holds it; a key := is the operator's own
        # text. Two substring searches cost less than comparing every key twice.
        sql = self.tokens.sql
        if ":=" not in sql and "INTO" not in sql.upper():
            return
        if "INTO" not in keys and ":=" not in keys:
            return
        for index, key in enumerate(keys):
            if key == ";":
                return
            if key == "INTO":
                self.error("SELECT … INTO is refused: it stores the result in variables or a file instead of "
                           "returning it", index)
            if key == ":=":
                self.error("the assignment operator := is refused: a query that assigns user variables "
                           "depends on the order in which the server evaluates it", index)

    def parse_query(self) -> Query:
        first = self.pos
        with_ = self.parse_with() if self.keys[self.pos] == "WITH" else None
        body = self.parse_set_body()
        if with_ is not None:
            body.with_ = with_
            body.first = first
        return body

    def parse_with(self) -> With:
        first = self.expect("WITH")
        recursive = False
        if self.keys[self.pos] == "RECURSIVE":
            recursive = True
            self.pos += 1
        with_ = With(first, first, recursive)
        while True:
            cte_first = self.pos
            name = self.keys[self.pos]
            self.pos += 1
            if self.keys[self.pos] == "(":  # column list
                self.pos = self.matching[self.pos] + 1
            self.expect("AS")
            open_ = self.pos
            if self.keys[open_] != "(":
                self.error("expected '(' after AS in WITH")
            self.pos += 1
            body = self.parse_query()
            if self.pos != self.matching[open_]:
                self.error("expected ')' closing the WITH body")
            self.pos += 1
            with_.ctes.append(Cte(name, body, cte_first, self.pos))
            if self.keys[self.pos] != ",":
                break
            self.pos += 1
        with_.last = self.pos
        return with_

    def parse_set_body(self) -> Query:
        first = self.pos
        element = self.parse_element()
        if self.keys[self.pos] not in SET_OPS:
            if isinstance(element, ParenQuery):
                self.parse_order_limit(element)
                element.last = self.pos
            return element
        elements: list[Query] = [element]
        operators: list[SetOperator] = []
        keys = self.keys
        while keys[self.pos] in SET_OPS:
            op_first = self.pos
            kind = keys[self.pos]
            self.pos += 1
            is_all = False
            if keys[self.pos] == "ALL":
                is_all = True
                self.pos += 1
            elif keys[self.pos] == "DISTINCT":
                self.pos += 1
            operator = SetOperator(op_first, self.pos, kind, is_all)
            operators.append(operator)
            element = self.parse_element()
            if isinstance(element, Select):
                element.after_op = operator
            elements.append(element)
        setop = SetOp(first, self.pos, elements, operators)
        last = elements[-1]
        if isinstance(last, Select) and (last.order_by or last.limit):
            # An unparenthesised last operand cannot own ORDER BY/LIMIT: they belong to the union.
            setop.order_by, setop.limit = last.order_by, last.limit
            cut = (last.order_by or last.limit)[0]  # type: ignore[index]
            last.order_by = last.limit = None
            last.last = cut
        else:
            self.parse_order_limit(setop)
        setop.last = self.pos
        return setop

    def parse_order_limit(self, node: SetOp | ParenQuery | Select) -> None:
        keys = self.keys
        if keys[self.pos] == "ORDER" and keys[self.pos + 1] == "BY":
            start = self.pos
            self.pos += 2
            self.skip_clause()
            node.order_by = (start, self.pos)
        if keys[self.pos] == "LIMIT":
            start = self.pos
            self.pos += 1
            self.skip_clause()
            node.limit = (start, self.pos)

    def parse_element(self) -> Query:
        keys = self.keys
        if keys[self.pos] == "(":
            open_ = self.pos
            self.pos += 1
            inner = self.parse_query()
            if self.pos != self.matching[open_]:
                self.error("expected ')' closing the parenthesised query")
            self.pos += 1
            return ParenQuery(open_, self.pos, inner)
        if keys[self.pos] == "SELECT":
            return self.parse_select()
        self.error("expected SELECT")
        raise AssertionError  # unreachable

    def parse_select(self) -> Select:
        keys = self.keys
        first = self.expect("SELECT")
        select = Select(first, first, first)
        self.selects.append(select)
        while True:
            key = keys[self.pos]
            if key in ("DISTINCT", "DISTINCTROW"):
                select.distinct_token = self.pos
            elif key == "ALL":
                select.all_token = self.pos
            elif key not in SELECT_OPTIONS:
                break
            self.pos += 1
        fields_first = self.pos
        self.skip_clause()
        if self.pos == fields_first:
            self.error("expected a select list")
        if keys[self.pos] == "FROM":
            self.pos += 1
            if keys[self.pos] == "DUAL":
                self.pos += 1
            else:
                select.from_ = self.parse_table_refs()
        if keys[self.pos] == "WHERE":
            self.pos += 1
            select.where = self.parse_expr()
        if keys[self.pos] == "GROUP" and keys[self.pos + 1] == "BY":
            self.pos += 2
            self.skip_clause()
        if keys[self.pos] == "HAVING":
            self.pos += 1
            select.having = self.parse_expr()
        if keys[self.pos] == "WINDOW":
            self.pos += 1
            self.skip_clause()
        self.parse_order_limit(select)
        while keys[self.pos] in ("FOR", "LOCK"):
            self.pos += 1
            self.skip_clause()
        select.last = self.pos
        return select

    # -- FROM --------------------------------------------------------------------------------------------

    def parse_table_refs(self) -> TableRef:
        ref = self.parse_table_ref()
        while self.keys[self.pos] == ",":
            self.pos += 1
            right = self.parse_table_ref()
            ref = TableRef("join", ref.first, right.last, left=ref, right=right, join_type="COMMA")
        return ref

    def parse_join_type(self) -> str | None:
        keys = self.keys
        key = keys[self.pos]
        if key == "JOIN":
            self.pos += 1
            return "JOIN"
        if key in ("INNER", "CROSS") and keys[self.pos + 1] == "JOIN":
            self.pos += 2
            return "JOIN"
        if key == "STRAIGHT_JOIN":
            self.pos += 1
            return "STRAIGHT_JOIN"
        if key in ("LEFT", "RIGHT"):
            self.pos += 1
            if keys[self.pos] == "OUTER":
                self.pos += 1
            self.expect("JOIN")
            return key
        if key == "NATURAL":
            self.pos += 1
            kind = "NATURAL"
            if keys[self.pos] in ("LEFT", "RIGHT"):
                kind = keys[self.pos]
                self.pos += 1
                if keys[self.pos] == "OUTER":
                    self.pos += 1
            elif keys[self.pos] == "INNER":
                self.pos += 1
            self.expect("JOIN")
            return kind
        return None

    def parse_table_ref(self) -> TableRef:
        left = self.parse_table_factor()
        keys = self.keys
        while True:
            join_type = self.parse_join_type()
            if join_type is None:
                return left
            right = self.parse_table_factor()
            join = TableRef("join", left.first, right.last, left=left, right=right, join_type=join_type)
            if keys[self.pos] == "ON":
                join.on_token = self.pos
                self.pos += 1
                join.on = self.parse_expr()
            elif keys[self.pos] == "USING":
                self.pos += 1
                if keys[self.pos] != "(":
                    self.error("expected '(' after USING")
                self.pos = self.matching[self.pos] + 1
            join.last = self.pos
            left = join

    def parse_table_factor(self) -> TableRef:
        keys = self.keys
        first = self.pos
        if keys[self.pos] == "LATERAL":
            self.pos += 1
        if keys[self.pos] == "(":
            open_ = self.pos
            close = self.matching[open_]
            derived = self.try_parse_group_query(open_)
            if derived is not None:
                self.pos = close + 1
                self.parse_alias()
                if keys[self.pos] == "(":  # derived column list
                    self.pos = self.matching[self.pos] + 1
                return TableRef("derived", first, self.pos, query=derived)
            self.pos = open_ + 1
            inner = self.parse_table_refs()
            if self.pos != close:
                self.error("expected ')' closing the table reference")
            self.pos = close + 1
            return TableRef("paren", first, self.pos, left=inner)
        key = keys[self.pos]
        if key == "JSON_TABLE" and keys[self.pos + 1] == "(":
            # A table function PINOLO's visitor never enters: one opaque table, whatever its arguments hold.
            self.pos = self.matching[self.pos + 1] + 1
            self.parse_alias()
            return TableRef("table", first, self.pos)
        if key in NOT_AN_OPERAND or key[:1] in "'(" or key == "<EOF>":
            self.error("expected a table name")
        self.pos += 1
        while keys[self.pos] == ".":
            self.pos += 2
        ref = TableRef("table", first, self.pos)
        if keys[self.pos] == "PARTITION" and keys[self.pos + 1] == "(":
            self.pos = self.matching[self.pos + 1] + 1
        self.parse_alias()
        while keys[self.pos] in HINT_STARTERS and keys[self.pos + 1] in ("INDEX", "KEY"):
            hint_first = self.pos
            self.pos += 2
            if keys[self.pos] == "FOR":
                self.pos += 1
                self.pos += 2 if keys[self.pos] in ("ORDER", "GROUP") else 1
            if keys[self.pos] != "(":
                self.error("expected '(' in index hint")
            self.pos = self.matching[self.pos] + 1
            ref.hints.append((hint_first, self.pos))
            if keys[self.pos] == "," and keys[self.pos + 1] in HINT_STARTERS:
                self.pos += 1
        ref.last = self.pos
        return ref

    def parse_alias(self) -> None:
        keys = self.keys
        if keys[self.pos] == "AS":
            self.pos += 2
            return
        key = keys[self.pos]
        if key != "<EOF>" and key not in ALIAS_FORBIDDEN and key[:1] not in "'(),;.":
            if key[:1] == "`" or key[:1].isalpha() or key[:1] == "_":
                self.pos += 1

    def try_parse_group_query(self, open_: int) -> Query | None:
        """Parse `( query )` at `open_` if the group holds exactly a query; otherwise restore and say None."""
        if not self.starts_query(open_ + 1):
            return None
        saved_pos, saved_selects = self.pos, len(self.selects)
        self.pos = open_ + 1
        try:
            query = self.parse_query()
            if self.pos == self.matching[open_]:
                return query
        except SqlSyntaxError:
            if self.keys[open_ + 1] in ("SELECT", "WITH"):
                raise
        self.pos = saved_pos
        del self.selects[saved_selects:]
        return None

    # -- expressions -------------------------------------------------------------------------------------

    def parse_expr(self) -> Expr:
        keys = self.keys
        left = self.parse_xor()
        while keys[self.pos] == "OR":
            self.pos += 1
            right = self.parse_xor()
            left = Expr("or", left.first, right.last, left, right)
        return left

    def parse_xor(self) -> Expr:
        keys = self.keys
        left = self.parse_and()
        while keys[self.pos] == "XOR":
            self.pos += 1
            right = self.parse_and()
            left = Expr("xor", left.first, right.last, left, right)
        return left

    def parse_and(self) -> Expr:
        keys = self.keys
        # `parse_not`, called only where a NOT stands: most operands go straight to `parse_is`.
        left = self.parse_not() if keys[self.pos] == "NOT" else self.parse_is()
        while keys[self.pos] == "AND":
            self.pos += 1
            right = self.parse_not() if keys[self.pos] == "NOT" else self.parse_is()
            left = Expr("and", left.first, right.last, left, right)
        return left

    def parse_not(self) -> Expr:
        if self.keys[self.pos] == "NOT":
            first = self.pos
            self.pos += 1
            operand = self.parse_not()
            return Expr("not", first, operand.last, operand)
        return self.parse_is()

    def parse_is(self) -> Expr:
        keys = self.keys
        node = self.parse_boolpri()
        while keys[self.pos] == "IS":
            index = self.pos + 1
            negated = keys[index] == "NOT"
            if negated:
                index += 1
            word = keys[index]
            if word in ("TRUE", "FALSE"):
                node = Expr("istruth", node.first, index + 1, node, negated=negated, is_false=word == "FALSE")
            elif word in ("NULL", "UNKNOWN"):
                node = Expr("isnull", node.first, index + 1, node)
            else:
                self.error("expected TRUE, FALSE, UNKNOWN or NULL after IS", index)
            self.pos = index + 1
        return node

    def parse_boolpri(self) -> Expr:
        keys = self.keys
        left = self.parse_predicate()
        while True:
            key = keys[self.pos]
            if key in COMPARISON_OPS:
                op = self.pos
                self.pos += 1
                if keys[self.pos] in QUANTIFIERS and keys[self.pos + 1] == "(":
                    quantifier = keys[self.pos]
                    open_ = self.pos + 1
                    self.pos = self.matching[open_] + 1
                    left = Expr("cmpsub", left.first, self.pos, left, op=op, quantifier=quantifier, group=open_)
                else:
                    right = self.parse_predicate()
                    kind = "nullsafe" if key == "<=>" else "cmp"
                    left = Expr(kind, left.first, right.last, left, right, op=op)
            elif key == "IS" and (
                keys[self.pos + 1] == "NULL" or (keys[self.pos + 1] == "NOT" and keys[self.pos + 2] == "NULL")
            ):
                self.pos += 2 if keys[self.pos + 1] == "NULL" else 3
                left = Expr("isnull", left.first, self.pos, left)
            else:
                return left

    def parse_predicate(self) -> Expr:
        keys = self.keys
        left = self.parse_bitexpr()
        key = keys[self.pos]
        negated = False
        if key == "NOT" and keys[self.pos + 1] in ("IN", "LIKE", "REGEXP", "RLIKE", "BETWEEN"):
            negated = True
            self.pos += 1
            key = keys[self.pos]
        if key == "IN":
            self.pos += 1
            open_ = self.pos
            if keys[open_] != "(":
                self.error("expected '(' after IN")
            close = self.matching[open_]
            self.pos = close + 1
            if keys[open_ + 1] in ("SELECT", "WITH") or (
                keys[open_ + 1] == "(" and self._is_group_query(open_)
            ):
                return Expr("in_sub", left.first, self.pos, left, negated=negated, group=open_)
            return Expr("in_list", left.first, self.pos, left, negated=negated, op=close)
        if key == "LIKE":
            self.pos += 1
            right = self.parse_unary()
            if keys[self.pos] == "ESCAPE":
                self.pos += 1
                self.parse_unary()
            return Expr("like", left.first, self.pos, left, right, negated=negated)
        if key in ("REGEXP", "RLIKE"):
            self.pos += 1
            right = self.parse_bitexpr()
            return Expr("regexp", left.first, right.last, left, right, negated=negated)
        if key == "BETWEEN":
            self.pos += 1
            self.parse_bitexpr()
            self.expect("AND")
            right = self.parse_predicate()
            return Expr("between", left.first, right.last, left, right, negated=negated)
        if key == "SOUNDS" and keys[self.pos + 1] == "LIKE":
            self.pos += 2
            right = self.parse_bitexpr()
            return Expr("opaque", left.first, right.last)
        if key == "MEMBER" and keys[self.pos + 1] == "OF" and keys[self.pos + 2] == "(":
            self.pos = self.matching[self.pos + 2] + 1
            return Expr("opaque", left.first, self.pos)
        return left

    def parse_bitexpr(self) -> Expr:
        keys = self.keys
        node = self.parse_unary()
        if keys[self.pos] not in BINARY_OPS:
            return node
        first = node.first
        while keys[self.pos] in BINARY_OPS:
            self.pos += 1
            self.parse_unary()
        return Expr("opaque", first, self.pos)

    def parse_unary(self) -> Expr:
        keys = self.keys
        first = pos = self.pos
        bangs = 0
        plain = True
        while keys[pos] in UNARY_OPS:
            if keys[pos] == "!":
                bangs += 1
            else:
                plain = False
            pos += 1
        self.pos = pos
        primary, group = self.parse_primary()
        while keys[self.pos] == "COLLATE":
            self.pos += 2
            plain = False
        # The parser's most frequent node, built with positional arguments (in field order: kind, first,
        # last, left, right, op, negated, is_false, quantifier, group, bangs, plain, primary) because they
        # are bound faster than keywords.
        return Expr("opaque", first, self.pos, None, None, -1, False, False, "", group, bangs, plain, primary)

    def parse_primary(self) -> tuple[str, int]:
        keys = self.keys
        pos = self.pos
        key = keys[pos]
        head = key[:1]
        if key == "(":
            self.pos = self.matching[pos] + 1
            return "group", pos
        if head == "'":
            self.pos += 1
            while keys[self.pos][:1] == "'":  # adjacent literals concatenate
                self.pos += 1
            return "string", -1
        if head == "_" and keys[pos + 1][:1] == "'":  # charset introducer
            self.pos += 2
            return "string", -1
        if head.isdigit() or (head == "." and key[1:2].isdigit()):
            self.pos += 1
            return "other", -1
        if head == "@":
            self.pos += 1
            return "other", -1
        if key == "EXISTS" and keys[pos + 1] == "(":
            self.pos = self.matching[pos + 1] + 1
            return "exists", pos + 1
        if key == "INTERVAL":
            return self.parse_interval(), -1
        if key == "CASE":
            self.skip_case()
            return "other", -1
        if key == "{":
            depth = 0
            while True:
                if keys[self.pos] == "{":
                    depth += 1
                elif keys[self.pos] == "}":
                    depth -= 1
                    if depth == 0:
                        self.pos += 1
                        return "other", -1
                elif self.pos >= self.n:
                    self.error("'{' is never closed", pos)
                self.pos += 1
        if key in NOT_AN_OPERAND and not (key in FUNCTION_KEYWORDS and keys[pos + 1] == "("):
            self.error("expected an expression")
        if key == "<EOF>" or head in "'(":
            self.error("expected an expression")
        if head in ("N", "X", "B") and len(key) == 1 and keys[pos + 1][:1] == "'" and (
            self.tokens.ends[pos] == self.tokens.starts[pos + 1]
        ):
            self.pos += 2
            return "string" if head == "N" else "other", -1
        if key in TEMPORAL_LITERALS and keys[pos + 1][:1] == "'":
            # DATE '2020-01-01', TIME '…', TIMESTAMP '…': a typed literal, not a string PINOLO's LIKE/REGEXP
            # mutators would rewrite.
            self.pos += 2
            return "other", -1
        # A word or identifier: function call, column reference or keyword literal (NULL, TRUE, …).
        self.pos += 1
        if keys[self.pos] == "(" and head != "`":
            self.pos = self.matching[self.pos] + 1
            if key == "MATCH" and keys[self.pos] == "AGAINST" and keys[self.pos + 1] == "(":
                # Full-text search, one of the contexts PINOLO's visitor passes over (reference §3).
                self.pos = self.matching[self.pos + 1] + 1
                return "other", -1
            if keys[self.pos] == "OVER":
                self.pos += 1
                self.pos = self.matching[self.pos] + 1 if keys[self.pos] == "(" else self.pos + 1
            return "other", -1
        while keys[self.pos] == ".":
            self.pos += 2
        if keys[self.pos] == "(" and head == "`":  # a backquoted function name, e.g. a UDF
            self.pos = self.matching[self.pos] + 1
        return "other", -1

    def parse_interval(self) -> str:
        """`INTERVAL expr unit`, or the INTERVAL(N, N1, …) function when no unit follows the group."""
        keys = self.keys
        start = self.pos
        self.pos += 1
        if keys[self.pos] == "(":
            after = self.matching[self.pos] + 1
            if keys[after] not in TIME_UNITS:
                self.pos = after
                return "other"
        self.parse_bitexpr()
        unit = keys[self.pos]
        if unit not in TIME_UNITS:
            self.error("expected a time unit after INTERVAL", self.pos if self.pos < self.n else start)
        self.pos += 1
        return "other"

    def skip_case(self) -> None:
        keys = self.keys
        start = self.pos
        depth = 0
        while self.pos < self.n:
            key = keys[self.pos]
            if key == "(":
                self.pos = self.matching[self.pos] + 1
                continue
            if key == "CASE":
                depth += 1
            elif key == "END":
                depth -= 1
                if depth == 0:
                    self.pos += 1
                    return
            self.pos += 1
        self.error("CASE without END", start)

    # -- lazy groups -------------------------------------------------------------------------------------

    def _is_group_query(self, open_: int) -> bool:
        """`IN ((SELECT …) UNION (SELECT …))` is a subquery, `IN ((SELECT 1), 2)` a value list."""
        saved = self.pos
        query = self.try_parse_group_query(open_)
        self.pos = saved
        if query is None:
            return False
        self._group_cache[open_] = query
        return True

    def subquery(self, open_: int) -> Query:
        """The query inside the parentheses at `open_` (IN, EXISTS, ANY/ALL operands)."""
        cached = self._group_cache.get(open_)
        if cached is not None:
            return cached  # type: ignore[return-value]
        saved = self.pos
        self.pos = open_ + 1
        query = self.parse_query()
        if self.pos != self.matching[open_]:
            self.error("expected ')' closing the subquery")
        self.pos = saved
        self._group_cache[open_] = query
        return query

    def group(self, open_: int) -> Query | Expr | None:
        """What a parenthesised group in predicate position holds: a query, an expression, or None for a row."""
        if open_ in self._group_cache:
            return self._group_cache[open_]
        saved = self.pos
        result: Query | Expr | None = self.try_parse_group_query(open_)
        if result is None:
            self.pos = open_ + 1
            expr = self.parse_expr()
            if self.keys[self.pos] == ",":
                result = None  # a row constructor (a, b): opaque to the visitor
            elif self.pos != self.matching[open_]:
                self.error("expected ')'")
            else:
                result = expr
        self.pos = saved
        self._group_cache[open_] = result
        return result


def parse(sql: str) -> tuple[Parser, Query]:
    """Tokenize and parse one SELECT/WITH statement (a trailing ';' is allowed)."""
    parser = Parser(tokenize(sql))
    return parser, parser.parse_statement()
