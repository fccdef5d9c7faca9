"""A small, real SOQL parser and evaluator for the subset syncd sends, and Salesforce's refusals.

Grammar (keywords in any case)::

    query      := SELECT select FROM object [WHERE condition] [ORDER BY order {, order}]
                  [LIMIT integer] [OFFSET integer]
    select     := COUNT() | path {, path}
    path       := field | relationship . field   (one parent lookup: Account.Name, Owner.Name)
    condition  := term {AND term} | term {OR term}      (AND and OR mixed only in parentheses)
    term       := NOT term | ( condition ) | field op value | field [NOT] IN ( value {, value} )
                | field LIKE string | field INCLUDES|EXCLUDES ( string {, string} )
    op         := = | != | <> | < | <= | > | >=
    value      := 'string' | number | true | false | null | 2024-01-01 | 2024-01-01T00:00:00Z
                | TODAY | YESTERDAY | TOMORROW | LAST_N_DAYS:n | NEXT_N_DAYS:n
    order      := field [ASC | DESC] [NULLS FIRST | NULLS LAST]

Refused as Salesforce refuses them (each error carries Salesforce's ``errorCode`` and its
message with the query echoed and a caret under the column, as real orgs answer
``MALFORMED_QUERY`` and ``INVALID_FIELD``; see ``../shared/notes/salesforce-sdk.md``): a token
out of place (``MALFORMED_QUERY``), an unknown object (``INVALID_TYPE``), an unknown field, a
value of the wrong type for its field (a quoted datetime), a filter on a long text area
(``INVALID_FIELD``), an Id filter that is no id (``INVALID_QUERY_FILTER_OPERATOR``).

String comparisons ignore case, as SOQL's do; ids compare in their 18-character form.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sandbox.salesforce.ids import normalize
from sandbox.salesforce.schema import Field, SObjectType, sobject

Row = Mapping[str, Any]
"""A record's values by lower-case field name, typed (str, bool, float, date, datetime, None)."""

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>[+-]?\d+(?:\.\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),.:])
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_DATE_LITERALS = frozenset({"TODAY", "YESTERDAY", "TOMORROW"})
_N_DAYS = frozenset({"LAST_N_DAYS", "NEXT_N_DAYS"})
_STRINGY = frozenset(
    {"id", "string", "email", "phone", "url", "textarea", "picklist", "multipicklist", "reference"}
)
_NUMERIC = frozenset({"double", "currency", "int"})
_MAX_LIMIT = 50_000


def _unescape(match: re.Match[str]) -> str:
    return _ESCAPES.get(match.group(1), match.group(1))


class SoqlError(Exception):
    """A query Salesforce refuses: ``code`` (``MALFORMED_QUERY``, ``INVALID_FIELD``...) and the
    message it answers (the query echoed, a caret under ``column``, then ``detail``)."""

    def __init__(self, code: str, detail: str, text: str, column: int) -> None:
        caret = " " * max(column - 1, 0) + "^"
        super().__init__(f"\n{text}\n{caret}\nERROR at Row:1:Column:{column}\n{detail}")
        self.code = code
        self.detail = detail
        self.message = str(self)


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    text: str
    column: int

    def word(self) -> str:
        return self.text.upper() if self.kind == "ident" else ""


@dataclass(frozen=True, slots=True)
class FieldRef:
    """A field as a query names it: one of the object's own, or (``relationship`` set) a
    field of the record a lookup points at (``Account.Name``: ``via`` ``AccountId``,
    ``target`` ``Account``, ``name`` and ``field`` those of ``Name`` on Account)."""

    name: str
    column: int
    field: Field
    relationship: str | None = None
    via: str | None = None
    target: str | None = None

    @property
    def path(self) -> str:
        """How answers name it: ``Name``, or ``Account.Name``."""
        return self.name if self.relationship is None else f"{self.relationship}.{self.name}"


@dataclass(frozen=True, slots=True)
class Value:
    """A literal as written: ``kind`` is string, number, boolean, null, date, datetime or
    relative (a date literal such as ``TODAY``); ``value`` is the Python value."""

    kind: str
    value: Any
    column: int


@dataclass(frozen=True, slots=True)
class Compare:
    field: FieldRef
    op: str
    value: Value


@dataclass(frozen=True, slots=True)
class InList:
    field: FieldRef
    values: tuple[Value, ...]
    negated: bool


@dataclass(frozen=True, slots=True)
class Like:
    field: FieldRef
    pattern: str


@dataclass(frozen=True, slots=True)
class Includes:
    field: FieldRef
    values: tuple[str, ...]
    negated: bool


@dataclass(frozen=True, slots=True)
class Not:
    part: Condition


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: str
    parts: tuple[Condition, ...]


Condition = Compare | InList | Like | Includes | Not | BoolOp


@dataclass(frozen=True, slots=True)
class Order:
    field: FieldRef
    descending: bool
    nulls_last: bool


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed query; ``fields`` is empty for ``SELECT COUNT()``."""

    text: str
    sobject: SObjectType
    fields: tuple[FieldRef, ...]
    count: bool
    where: Condition | None
    order_by: tuple[Order, ...]
    limit: int | None
    offset: int | None


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise SoqlError(
                "MALFORMED_QUERY", f"unexpected token: '{text[position]}'", text, position + 1
            )
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(Token(kind, match.group(), position + 1))
        position = match.end()
    tokens.append(Token("eof", "", len(text) + 1))
    return tokens


class _Parser:
    def __init__(
        self, text: str, hidden: Callable[[str, str], bool], now: Callable[[], datetime]
    ) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.hidden = hidden
        self.now = now
        self.sobject: SObjectType | None = None

    # -- tokens

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def unexpected(self, token: Token | None = None) -> SoqlError:
        token = token or self.current
        shown = "<EOF>" if token.kind == "eof" else token.text
        return SoqlError("MALFORMED_QUERY", f"unexpected token: '{shown}'", self.text, token.column)

    def keyword(self, *words: str) -> bool:
        """Consume the keywords ``words`` if they come next."""
        ahead = self.tokens[self.index : self.index + len(words)]
        if [t.word() for t in ahead] != list(words):
            return False
        self.index += len(words)
        return True

    def expect(self, *words: str) -> None:
        if not self.keyword(*words):
            raise self.unexpected()

    def punct(self, symbol: str) -> bool:
        if self.current.kind == "punct" and self.current.text == symbol:
            self.index += 1
            return True
        return False

    def expect_punct(self, symbol: str) -> None:
        if not self.punct(symbol):
            raise self.unexpected()

    # -- grammar

    def query(self) -> Query:
        self.expect("SELECT")
        count = False
        names: list[Token] = []
        if self.current.word() == "COUNT" and self.tokens[self.index + 1].text == "(":
            self.index += 1
            self.expect_punct("(")
            self.expect_punct(")")
            count = True
        else:
            names.append(self.identifier())
            while self.punct(","):
                names.append(self.identifier())
        self.expect("FROM")
        object_token = self.identifier()
        found = sobject(object_token.text)
        if found is None:
            raise SoqlError(
                "INVALID_TYPE",
                f"sObject type '{object_token.text}' is not supported. If you are attempting to "
                "use a custom object, be sure to append the '__c' after the entity name. Please "
                "reference your WSDL or the describe call for the appropriate names.",
                self.text,
                object_token.column,
            )
        self.sobject = found
        fields = tuple(self.field_ref(t, parents=True) for t in names)
        seen: set[str] = set()
        for ref in fields:
            if ref.path.lower() in seen:
                raise SoqlError(
                    "INVALID_FIELD",
                    f"duplicate field selected: {ref.path}",
                    self.text,
                    ref.column,
                )
            seen.add(ref.path.lower())
        where = self.condition() if self.keyword("WHERE") else None
        order: list[Order] = []
        if self.keyword("ORDER", "BY"):
            order.append(self.order())
            while self.punct(","):
                order.append(self.order())
        limit = self.integer() if self.keyword("LIMIT") else None
        offset = self.integer() if self.keyword("OFFSET") else None
        if self.current.kind != "eof":
            raise self.unexpected()
        return Query(self.text, found, fields, count, where, tuple(order), limit, offset)

    def identifier(self) -> Token:
        """A name, or a dotted path (``Account.Name``: a parent relationship, see
        :meth:`field_ref`)."""
        token = self.take()
        if token.kind != "ident":
            raise self.unexpected(token)
        parts = [token.text]
        while self.current.kind == "punct" and self.current.text == ".":
            self.index += 1
            parts.append(self.identifier().text)
        return Token("ident", ".".join(parts), token.column) if len(parts) > 1 else token

    def integer(self) -> int:
        token = self.take()
        if token.kind != "number" or not token.text.isdigit():
            raise self.unexpected(token)
        value = int(token.text)
        if value > _MAX_LIMIT:
            raise SoqlError(
                "MALFORMED_QUERY", f"maximum value is {_MAX_LIMIT}", self.text, token.column
            )
        return value

    def field_ref(self, token: Token, *, parents: bool = False) -> FieldRef:
        """The field ``token`` names. With ``parents`` (the SELECT list) a path of one parent
        relationship and a field of its object (``Account.Name``, ``Owner.Name``) is taken;
        an unknown relationship is refused as Salesforce refuses it (``INVALID_FIELD``,
        "Didn't understand relationship 'X' in field path..."). Relationships in WHERE and
        ORDER BY, paths of two relationships and polymorphic ones (``Who``, ``What``) are
        refused too: invented, the sandbox does not emulate them (Salesforce takes them)."""
        assert self.sobject is not None
        if "." not in token.text:
            return self._own(self.sobject, token.text, token.column)
        relationship, _, rest = token.text.partition(".")
        via = next(
            (
                f
                for f in self.sobject.fields
                if f.relationship_name is not None
                and f.relationship_name.lower() == relationship.lower()
                and not self.hidden(self.sobject.name, f.name)
            ),
            None,
        )
        if via is None:
            raise SoqlError(
                "INVALID_FIELD",
                f"Didn't understand relationship '{relationship}' in field path. If you are "
                "attempting to use a custom relationship, be sure to append the '__r' after the "
                "custom relationship name. Please reference your WSDL or the describe call for "
                "the appropriate names.",
                self.text,
                token.column,
            )
        targets = via.reference_to or (("User",) if via.name == "OwnerId" else ())
        if not parents or "." in rest or len(targets) != 1 or sobject(targets[0]) is None:
            raise SoqlError(
                "INVALID_FIELD",
                f"Didn't understand relationship '{relationship}' in field path. "
                "(sandbox: only one parent relationship to one object, in SELECT, is emulated)",
                self.text,
                token.column,
            )
        target = sobject(targets[0])
        assert target is not None
        own = self._own(target, rest, token.column)
        return FieldRef(
            own.name, token.column, own.field, str(via.relationship_name), via.name, target.name
        )

    def _own(self, of: SObjectType, name: str, column: int) -> FieldRef:
        found = of.field(name)
        if found is None or self.hidden(of.name, found.name):
            raise SoqlError(
                "INVALID_FIELD",
                f"No such column '{name}' on entity '{of.name}'. If you are "
                "attempting to use a custom field, be sure to append the '__c' after the custom "
                "field name. Please reference your WSDL or the describe call for the appropriate "
                "names.",
                self.text,
                column,
            )
        return FieldRef(found.name, column, found)

    def order(self) -> Order:
        ref = self.field_ref(self.identifier())
        if not ref.field.sortable:
            raise SoqlError(
                "INVALID_FIELD",
                f"field '{ref.name}' can not be sorted in a query call",
                self.text,
                ref.column,
            )
        descending = False
        if self.keyword("DESC"):
            descending = True
        else:
            self.keyword("ASC")
        nulls_last = descending
        if self.keyword("NULLS"):
            if self.keyword("LAST"):
                nulls_last = True
            else:
                self.expect("FIRST")
                nulls_last = False
        return Order(ref, descending, nulls_last)

    def condition(self) -> Condition:
        parts = [self.term()]
        joiner: str | None = None
        while self.current.word() in ("AND", "OR"):
            word = self.current.word()
            if joiner is not None and word != joiner:
                raise self.unexpected()
            joiner = word
            self.index += 1
            parts.append(self.term())
        return parts[0] if joiner is None else BoolOp(joiner, tuple(parts))

    def term(self) -> Condition:
        if self.keyword("NOT"):
            return Not(self.term())
        if self.punct("("):
            inner = self.condition()
            self.expect_punct(")")
            return inner
        ref = self.field_ref(self.identifier())
        if not ref.field.filterable:
            raise SoqlError(
                "INVALID_FIELD",
                f"field '{ref.name}' can not be filtered in a query call",
                self.text,
                ref.column,
            )
        if self.current.kind == "op":
            op = self.take().text
            return Compare(ref, "!=" if op == "<>" else op, self.checked(ref, self.value()))
        negated = self.keyword("NOT")
        if self.keyword("IN"):
            self.expect_punct("(")
            values = [self.checked(ref, self.value())]
            while self.punct(","):
                values.append(self.checked(ref, self.value()))
            self.expect_punct(")")
            return InList(ref, tuple(values), negated)
        if negated:
            raise self.unexpected()
        if self.keyword("LIKE"):
            pattern = self.value()
            if pattern.kind != "string":
                raise self.unexpected()
            return Like(ref, str(pattern.value))
        for word in ("INCLUDES", "EXCLUDES"):
            if self.keyword(word):
                self.expect_punct("(")
                items = [self.value()]
                while self.punct(","):
                    items.append(self.value())
                self.expect_punct(")")
                if ref.field.type != "multipicklist" or any(i.kind != "string" for i in items):
                    raise SoqlError(
                        "INVALID_FIELD",
                        f"{word.lower()} or excludes operator only valid on multipicklist field",
                        self.text,
                        ref.column,
                    )
                return Includes(ref, tuple(str(i.value) for i in items), word == "EXCLUDES")
        raise self.unexpected()

    def value(self) -> Value:
        token = self.take()
        if token.kind == "string":
            inner = re.sub(r"\\(.)", _unescape, token.text[1:-1])
            return Value("string", inner, token.column)
        if token.kind == "number":
            return Value("number", float(token.text), token.column)
        if token.kind == "date":
            try:
                return Value("date", date.fromisoformat(token.text), token.column)
            except ValueError:
                raise self.unexpected(token) from None
        if token.kind == "datetime":
            try:
                moment = datetime.fromisoformat(token.text.replace("Z", "+00:00"))
            except ValueError:
                raise self.unexpected(token) from None
            return Value("datetime", moment.astimezone(UTC), token.column)
        word = token.word()
        if word in ("TRUE", "FALSE"):
            return Value("boolean", word == "TRUE", token.column)
        if word == "NULL":
            return Value("null", None, token.column)
        today = self.now().astimezone(UTC).date()
        if word in _DATE_LITERALS:
            shift = {"TODAY": 0, "YESTERDAY": -1, "TOMORROW": 1}[word]
            return Value("relative", (today + timedelta(days=shift), 1), token.column)
        if word in _N_DAYS:
            self.expect_punct(":")
            days = self.take()
            if days.kind != "number" or not days.text.isdigit():
                raise self.unexpected(days)
            n = int(days.text)
            start = today - timedelta(days=n) if word == "LAST_N_DAYS" else today + timedelta(1)
            return Value("relative", (start, n + 1 if word == "LAST_N_DAYS" else n), token.column)
        raise self.unexpected(token)

    def checked(self, ref: FieldRef, value: Value) -> Value:
        """``value`` if its type suits the field, else Salesforce's ``INVALID_FIELD``."""
        kind, field = value.kind, ref.field
        if kind == "null":
            return value
        wanted: str | None = None
        quoted = kind == "string"
        if field.type == "datetime" and kind not in ("datetime", "relative"):
            wanted = "dateTime"
        elif field.type == "date" and kind not in ("date", "relative"):
            wanted = "date"
        elif field.type == "boolean" and kind != "boolean":
            wanted = "boolean"
        elif field.type in _NUMERIC and kind != "number":
            wanted = "double"
        elif field.type in _STRINGY and kind != "string":
            detail = (
                f"value of filter criterion for field '{field.name}' must be of type string and "
                "should be enclosed in quotes"
            )
            raise SoqlError("INVALID_FIELD", detail, self.text, value.column)
        if wanted is not None:
            tail = " and should not be enclosed in quotes" if quoted else ""
            raise SoqlError(
                "INVALID_FIELD",
                f"value of filter criterion for field '{field.name}' must be of type "
                f"{wanted}{tail}",
                self.text,
                value.column,
            )
        if field.type in ("id", "reference") and normalize(str(value.value)) is None:
            raise SoqlError(
                "INVALID_QUERY_FILTER_OPERATOR",
                f"invalid ID field: {value.value}",
                self.text,
                value.column,
            )
        return value


def parse(
    text: str,
    *,
    hidden: Callable[[str, str], bool] = lambda _object, _field: False,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Query:
    """Parse ``text`` or raise :class:`SoqlError` as Salesforce would refuse it. ``hidden``
    says which fields field-level security hides (they do not exist for this user)."""
    return _Parser(text, hidden, now).query()


# -- evaluation -----------------------------------------------------------------------------------


def _key(field: Field, value: Any) -> Any:
    """A value as SOQL compares it: text without case, ids in their 18-character form."""
    if value is None:
        return None
    if field.type in ("id", "reference"):
        return (normalize(str(value)) or str(value)).lower()
    if isinstance(value, str):
        return value.casefold()
    return value


def _literal(field: Field, value: Value) -> Any:
    if field.type == "date" and isinstance(value.value, datetime):
        return value.value.date()
    if field.type in _NUMERIC and value.value is not None:
        return float(value.value)
    return _key(field, value.value)


def _within(field: Field, actual: Any, value: Value) -> tuple[Any, Any]:
    """The [start, end) range a relative date literal stands for, in the field's type."""
    start, days = value.value
    lo: Any = start
    hi: Any = start + timedelta(days=days)
    if field.type == "datetime":
        lo = datetime(start.year, start.month, start.day, tzinfo=UTC)
        hi = lo + timedelta(days=days)
    return lo, hi


def _compare(field: Field, actual: Any, op: str, value: Value) -> bool:
    if value.kind == "null":
        return (actual is None) == (op == "=") if op in ("=", "!=") else False
    if actual is None:
        return op == "!="
    if value.kind == "relative":
        lo, hi = _within(field, actual, value)
        inside = lo <= actual < hi
        return bool(
            {
                "=": inside,
                "!=": not inside,
                "<": actual < lo,
                "<=": actual < hi,
                ">": actual >= hi,
                ">=": actual >= lo,
            }[op]
        )
    left, right = _key(field, actual), _literal(field, value)
    if field.type == "multipicklist" and op in ("=", "!="):
        same = set(str(left).split(";")) == set(str(right).split(";"))
        return same if op == "=" else not same
    try:
        return bool(
            {
                "=": left == right,
                "!=": left != right,
                "<": left < right,
                "<=": left <= right,
                ">": left > right,
                ">=": left >= right,
            }[op]
        )
    except TypeError:
        return False


def _like(actual: Any, pattern: str) -> bool:
    if actual is None:
        return False
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, str(actual), re.IGNORECASE | re.DOTALL) is not None


def matches(condition: Condition | None, row: Row) -> bool:
    """Whether ``row`` satisfies ``condition`` (None: every row does)."""
    if condition is None:
        return True
    if isinstance(condition, BoolOp):
        results = (matches(part, row) for part in condition.parts)
        return all(results) if condition.op == "AND" else any(results)
    if isinstance(condition, Not):
        return not matches(condition.part, row)
    actual = row.get(condition.field.name.lower())
    if isinstance(condition, Compare):
        return _compare(condition.field.field, actual, condition.op, condition.value)
    if isinstance(condition, InList):
        found = any(_compare(condition.field.field, actual, "=", v) for v in condition.values)
        return found != condition.negated
    if isinstance(condition, Like):
        return _like(actual, condition.pattern)
    chosen = {v.casefold() for v in str(actual or "").split(";") if v}
    wanted = [{v.casefold() for v in item.split(";")} for item in condition.values]
    hit = any(w <= chosen for w in wanted)
    return hit != condition.negated


def run(query: Query, rows: Sequence[Row]) -> list[Row]:
    """The rows ``query`` selects, ordered, offset and limited (whole rows: the caller renders
    the selected fields)."""
    chosen = [row for row in rows if matches(query.where, row)]
    for order in reversed(query.order_by):
        present = [r for r in chosen if r.get(order.field.name.lower()) is not None]
        absent = [r for r in chosen if r.get(order.field.name.lower()) is None]
        field = order.field.field
        present.sort(key=lambda r: _key(field, r.get(field.name.lower())), reverse=order.descending)
        chosen = present + absent if order.nulls_last else absent + present
    start = query.offset or 0
    end = None if query.limit is None else start + query.limit
    return chosen[start:end]
