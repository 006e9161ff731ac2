"""A small SOQL engine for the fake Salesforce: SELECT fields | COUNT() FROM object [WHERE …] [ORDER BY …] [LIMIT n].

WHERE takes comparisons (= != <> < <= > >=), [NOT] IN (…), LIKE, NOT, and parenthesised groups;
AND and OR may not be mixed without parentheses, as in SOQL. Literals are typed as in SOQL: quoted
strings with backslash escapes, numbers, true/false, null, dates (YYYY-MM-DD) and datetimes
(YYYY-MM-DDThh:mm:ssZ or ±hh:mm), and each must fit its field's type. Semantics follow Salesforce:
string comparisons ignore case, `field != value` and NOT IN keep nulls, other comparisons drop them,
ASC sorts nulls first and DESC last.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import Any

TOKEN = re.compile(r"""
    \s*(?:
      (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))
    | (?P<date>\d{4}-\d{2}-\d{2})
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<string>'(?:[^'\\]|\\.)*')
    | (?P<op>!=|<>|<=|>=|=|<|>)
    | (?P<punct>[(),])
    | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    )""", re.VERBOSE)
STRING_TYPES = frozenset({"id", "reference", "string", "picklist", "multipicklist", "combobox", "textarea", "email",
                          "phone", "url", "encryptedstring"})
NUMBER_TYPES = frozenset({"int", "long", "double", "currency", "percent"})
UNESCAPE = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}


class SoqlError(Exception):
    """A query Salesforce would refuse: `code` is its errorCode (MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    value: Any = None


def tokenize(text: str) -> list[Token]:
    tokens, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token at {text[position:position + 20]!r}")
        kind = match.lastgroup or ""
        raw = match.group(kind)
        position = match.end()
        if kind == "datetime":
            tokens.append(Token("literal", raw, datetime.fromisoformat(raw.replace("Z", "+00:00"))))
        elif kind == "date":
            tokens.append(Token("literal", raw, date.fromisoformat(raw)))
        elif kind == "number":
            tokens.append(Token("literal", raw, Decimal(raw)))
        elif kind == "string":
            tokens.append(Token("literal", raw, re.sub(r"\\(.)", lambda m: UNESCAPE.get(m.group(1), m.group(1)),
                                                       raw[1:-1])))
        elif kind == "word" and raw.lower() in ("true", "false"):
            tokens.append(Token("literal", raw, raw.lower() == "true"))
        elif kind == "word" and raw.lower() == "null":
            tokens.append(Token("literal", raw, None))
        else:
            tokens.append(Token(kind, raw))
    return tokens


Predicate = Callable[[Mapping[str, Any]], bool]


@dataclass
class Query:
    entity: str
    fields: list[str]
    count: bool = False
    where: Predicate | None = None
    order: list[tuple[str, bool, bool]] = field(default_factory=list)  # (field, descending, nulls first)
    limit: int | None = None


def sort_key(field_type: str, value: Any) -> Any:
    """How Salesforce compares a value of this type: text without case (Ids exactly), numbers as numbers."""
    if isinstance(value, str) and field_type in STRING_TYPES and field_type not in ("id", "reference"):
        return value.casefold()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Decimal(str(value))
    return value


def _like(pattern: str) -> re.Pattern[str]:
    out, escaped = [], False
    for char in pattern:
        if escaped:
            out.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        else:
            out.append(re.escape(char))
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


class Parser:
    def __init__(self, text: str, types: Callable[[str], Mapping[str, str]]) -> None:
        self.tokens = tokenize(text)
        self.position = 0
        self.types_of = types
        self.types: Mapping[str, str] = {}
        self.entity = ""

    def peek(self, offset: int = 0) -> Token | None:
        index = self.position + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def keyword(self, *words: str) -> bool:
        """Consume the keywords if they come next."""
        for offset, word in enumerate(words):
            token = self.peek(offset)
            if token is None or token.kind != "word" or token.text.upper() != word:
                return False
        self.position += len(words)
        return True

    def expect(self, kind: str, text: str | None = None) -> Token:
        token = self.peek()
        if token is None or token.kind != kind or (text is not None and token.text.upper() != text):
            found = token.text if token else "end of query"
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{found}' (expected {text or kind})")
        self.position += 1
        return token

    def column(self) -> str:
        name = self.expect("word").text
        if name not in self.types:
            raise SoqlError("INVALID_FIELD", f"No such column '{name}' on entity '{self.entity}'.")
        return name

    def parse(self) -> Query:
        self.expect("word", "SELECT")
        count = False
        names: list[str] = []
        if self.keyword("COUNT"):
            self.expect("punct", "(")
            self.expect("punct", ")")
            count = True
        else:
            names.append(self.expect("word").text)
            while self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
                self.position += 1
                names.append(self.expect("word").text)
        self.expect("word", "FROM")
        self.entity = self.expect("word").text
        self.types = self.types_of(self.entity)
        for name in names:
            if name not in self.types:
                raise SoqlError("INVALID_FIELD", f"No such column '{name}' on entity '{self.entity}'.")
        query = Query(self.entity, names, count)
        if self.keyword("WHERE"):
            query.where = self.expression()
        if self.keyword("ORDER", "BY"):
            while True:
                name = self.column()
                descending = self.keyword("DESC")
                if not descending:
                    self.keyword("ASC")
                nulls_first = not descending
                if self.keyword("NULLS", "FIRST"):
                    nulls_first = True
                elif self.keyword("NULLS", "LAST"):
                    nulls_first = False
                query.order.append((name, descending, nulls_first))
                if self.peek() is None or self.peek().text != ",":  # type: ignore[union-attr]
                    break
                self.position += 1
        if self.keyword("LIMIT"):
            limit = self.expect("literal")
            if not isinstance(limit.value, Decimal):
                raise SoqlError("MALFORMED_QUERY", "LIMIT takes a number")
            query.limit = int(limit.value)
        if self.peek() is not None:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{self.peek().text}'")  # type: ignore[union-attr]
        return query

    def expression(self) -> Predicate:
        parts = [self.unary()]
        joiner: str | None = None
        while (token := self.peek()) is not None and token.kind == "word" and token.text.upper() in ("AND", "OR"):
            word = token.text.upper()
            if joiner is not None and word != joiner:
                raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{token.text}' (parenthesise AND with OR)")
            joiner = word
            self.position += 1
            parts.append(self.unary())
        if joiner == "OR":
            return lambda record: any(part(record) for part in parts)
        return lambda record: all(part(record) for part in parts)

    def unary(self) -> Predicate:
        if self.keyword("NOT"):
            inner = self.unary()
            return lambda record: not inner(record)
        token = self.peek()
        if token is not None and token.text == "(":
            self.position += 1
            inner = self.expression()
            self.expect("punct", ")")
            return inner
        return self.comparison()

    def literal(self, name: str) -> Any:
        token = self.expect("literal")
        value, kind = token.value, self.types[name]
        fits = (
            value is None
            or (kind in STRING_TYPES and isinstance(value, str))
            or (kind in NUMBER_TYPES and isinstance(value, Decimal))
            or (kind == "boolean" and isinstance(value, bool))
            or (kind == "date" and isinstance(value, date) and not isinstance(value, datetime))
            or (kind == "datetime" and isinstance(value, datetime))
        )
        if not fits:
            raise SoqlError("INVALID_FIELD", f"value of filter criterion for field '{name}' must be of type {kind}"
                            f" and should {'' if kind in STRING_TYPES else 'not '}be enclosed in quotes")
        return sort_key(kind, value)

    def comparison(self) -> Predicate:
        name = self.column()
        kind = self.types[name]

        def get(record: Mapping[str, Any]) -> Any:
            return sort_key(kind, record.get(name))

        negated = self.keyword("NOT")
        if self.keyword("IN"):
            self.expect("punct", "(")
            values = [self.literal(name)]
            while self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
                self.position += 1
                values.append(self.literal(name))
            self.expect("punct", ")")
            if negated:
                return lambda record: get(record) not in values
            return lambda record: get(record) is not None and get(record) in values
        if negated:
            raise SoqlError("MALFORMED_QUERY", "NOT must be followed by IN here")
        if self.keyword("LIKE"):
            if kind not in STRING_TYPES:
                raise SoqlError("INVALID_FIELD", f"invalid operator on {kind} field: LIKE")
            pattern = _like(str(self.expect("literal").value))
            return lambda record: isinstance(record.get(name), str) and pattern.fullmatch(record[name]) is not None
        operator = self.expect("op").text
        value = self.literal(name)
        if operator in ("=", "!=", "<>"):
            equal = operator == "="
            return lambda record: (get(record) == value) == equal
        if value is None:
            raise SoqlError("MALFORMED_QUERY", f"null can only be compared with = or !=, not {operator}")
        test: Callable[[Any, Any], bool] = {
            "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
        }[operator]
        return lambda record: get(record) is not None and test(get(record), value)


def parse(text: str, types: Callable[[str], Mapping[str, str]]) -> Query:
    """Parse `text`; `types(entity)` gives the object's field types or raises SoqlError INVALID_TYPE."""
    return Parser(text, types).parse()


def _value_key(kind: str, name: str, record: Mapping[str, Any]) -> Any:
    return sort_key(kind, record[name])


def run(query: Query, records: Sequence[Mapping[str, Any]], types: Mapping[str, str]) -> list[Mapping[str, Any]]:
    """The query's records, filtered, sorted and limited (COUNT() is len() of the result)."""
    found = [record for record in records if query.where is None or query.where(record)]
    for name, descending, nulls_first in reversed(query.order):
        present = [r for r in found if r.get(name) is not None]
        absent = [r for r in found if r.get(name) is None]
        kind = types[name]
        present.sort(key=partial(_value_key, kind, name), reverse=descending)
        found = absent + present if nulls_first else present + absent
    return found[: query.limit] if query.limit is not None else found
