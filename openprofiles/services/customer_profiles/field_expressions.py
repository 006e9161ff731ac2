"""Object type field expressions: `Source` evaluators over ingested records and `Target` writers.

A `Source` is either a plain accessor rooted at `_source` (`_source.address.zip`,
`_source['first name']`, `_source.items[0].sku`) or a Handlebars-style template mixing literal
text with `{{accessor}}` placeholders, `{{"literal"}}` constants and the block helpers `#if`,
`#unless` (both with `{{else}}`) and `#each` (with `{{else}}`, `this`, `@index`, `@first`,
`@last`). `_source` always names the record itself, inside `#each` too. Nothing is HTML-escaped;
`{{{…}}}` is accepted as a synonym of `{{…}}`.

A `Target` names a field of a standard object: `_profile`, `_asset`, `_case` or `_order`.
"""

from __future__ import annotations

import functools
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import botocore.session

from openprofiles.errors import Invalid

__all__ = ["PROFILE_FIELDS", "SourceExpression", "Target", "compile_source", "compile_target"]

_ROOT = "_source"
#: A name usable after a dot; anything else needs the bracket form `['…']`.
_NAME = re.compile(r"[^.\[\]\s'\"{}]+")
_INDEX = re.compile(r"0|[1-9][0-9]*")
_DATA_NAMES = ("index", "first", "last")
_BLOCKS = ("if", "unless", "each")


class _SyntaxError(Exception):
    """A reason why a Source does not parse; compile_source turns it into Invalid."""


# --- values --------------------------------------------------------------------------------------


def _json_default(value: object) -> object:
    return dict(value) if isinstance(value, Mapping) else str(value)


_dumps = functools.partial(json.dumps, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def _render(value: Any) -> str | None:
    """A value as text: strings as they are, other scalars and containers like JSON; null is None."""
    if value is None:
        return None
    if type(value) is str:
        return value
    if value is True or value is False:
        return "true" if value else "false"
    if type(value) is int:
        return str(value)
    if isinstance(value, float | list | tuple | Mapping):
        return _dumps(value)
    return str(value)


def _truthy(value: Any) -> bool:
    """Handlebars truth: null, false, "", 0 and empty arrays are false; `{}` is true."""
    return isinstance(value, Mapping) or bool(value)


class _Path:
    """Steps from a base value; each step is a key and, for arrays, the same key as an index."""

    __slots__ = ("steps",)

    def __init__(self, keys: tuple[str, ...]) -> None:
        self.steps = tuple((key, int(key) if _INDEX.fullmatch(key) else None) for key in keys)

    def resolve(self, value: Any) -> Any:
        for key, index in self.steps:
            if type(value) is dict:
                value = value.get(key)
            elif isinstance(value, list | tuple):
                value = value[index] if index is not None and index < len(value) else None
            elif isinstance(value, Mapping):
                value = value.get(key)
            else:
                return None
        return value


def _format_keys(keys: tuple[str, ...]) -> str:
    """Canonical accessor text for keys: `.name`, `[0]` or `['other key']`."""
    parts = []
    for key in keys:
        if _INDEX.fullmatch(key):
            parts.append(f"[{key}]")
        elif _NAME.fullmatch(key):
            parts.append(f".{key}")
        else:
            escaped = key.replace("\\", "\\\\").replace("'", "\\'")
            parts.append(f"['{escaped}']")
    return "".join(parts)


# --- accessor syntax -----------------------------------------------------------------------------


def _read_quoted(text: str, start: int) -> tuple[str, int]:
    """The string quoted at text[start] (backslash escapes the next character) and the end."""
    quote, chars, i = text[start], [], start + 1
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            chars.append(text[i + 1])
            i += 2
            continue
        if char == quote:
            return "".join(chars), i + 1
        chars.append(char)
        i += 1
    raise _SyntaxError("unterminated quoted name")


def _read_bracket(text: str, start: int) -> tuple[str, int]:
    """The key inside `[…]` starting after the `[`: quoted, or raw text up to `]`."""
    if text[start : start + 1] in ("'", '"'):
        key, end = _read_quoted(text, start)
    else:
        end = text.find("]", start)
        if end <= start:
            raise _SyntaxError("empty or unclosed '['")
        key = text[start:end]
    if text[end : end + 1] != "]":
        raise _SyntaxError("expected ']'")
    return key, end + 1


def _parse_accessor(text: str) -> tuple[str, tuple[str, ...]]:
    """Split `root.a['b'][0]` into the root word and its keys."""
    match = re.match(r"[^.\[]*", text)
    root = match.group() if match else ""
    keys: list[str] = []
    i = len(root)
    while i < len(text):
        if text[i] == ".":
            i += 1
            if text[i : i + 1] == "[":
                continue
            name = _NAME.match(text, i)
            if name is None:
                raise _SyntaxError(f"expected a name after '.' at {text[:i]!r}")
            keys.append(name.group())
            i = name.end()
        elif text[i] == "[":
            key, i = _read_bracket(text, i + 1)
            keys.append(key)
        else:
            raise _SyntaxError(f"unexpected {text[i]!r} after {text[:i]!r}")
    return root, tuple(keys)


def _source_keys(text: str) -> tuple[str, ...]:
    root, keys = _parse_accessor(text)
    if root != _ROOT:
        raise _SyntaxError(f"an accessor must be rooted at {_ROOT}")
    return keys


# --- compiled expressions ------------------------------------------------------------------------


class SourceExpression(ABC):
    """A compiled `Source`: evaluate it against many records."""

    __slots__ = ("paths", "source")

    def __init__(self, source: str, paths: frozenset[str]) -> None:
        self.source = source
        #: Canonical `_source` paths read; elements read inside `#each` appear as `…items[*].sku`.
        self.paths = paths

    @abstractmethod
    def evaluate(self, record: Mapping[str, Any]) -> str | None:
        """The text for this record, or None when the data it reads is missing."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.source!r})"


class _Accessor(SourceExpression):
    __slots__ = ("_path",)

    def __init__(self, source: str, keys: tuple[str, ...]) -> None:
        super().__init__(source, frozenset({_ROOT + _format_keys(keys)}))
        self._path = _Path(keys)

    def evaluate(self, record: Mapping[str, Any]) -> str | None:
        return _render(self._path.resolve(record))


class _Frame:
    """The element `#each` is on."""

    __slots__ = ("index", "item", "last")

    def __init__(self, last: int) -> None:
        self.item: Any = None
        self.index = 0
        self.last = last


class _Scope:
    """One evaluation: the record, the `#each` frames, and how many placeholders found data."""

    __slots__ = ("found", "frames", "placeholders", "record")

    def __init__(self, record: Mapping[str, Any]) -> None:
        self.record = record
        self.frames: list[_Frame] = []
        self.placeholders = 0
        self.found = 0


class _Ref(Protocol):
    def lookup(self, scope: _Scope) -> Any: ...


class _Node(Protocol):
    def render(self, scope: _Scope, out: list[str]) -> None: ...


class _PathRef:
    """A path from the record (`_source…`) or from the current `#each` element (`this…`)."""

    __slots__ = ("local", "path")

    def __init__(self, keys: tuple[str, ...], *, local: bool) -> None:
        self.path = _Path(keys)
        self.local = local

    def lookup(self, scope: _Scope) -> Any:
        return self.path.resolve(scope.frames[-1].item if self.local else scope.record)


class _DataRef:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def lookup(self, scope: _Scope) -> Any:
        frame = scope.frames[-1]
        if self.name == "index":
            return frame.index
        return frame.index == (0 if self.name == "first" else frame.last)


class _Literal:
    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def lookup(self, scope: _Scope) -> Any:
        return self.value


class _Text:
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def render(self, scope: _Scope, out: list[str]) -> None:
        out.append(self.text)


class _Output:
    __slots__ = ("ref",)

    def __init__(self, ref: _Ref) -> None:
        self.ref = ref

    def render(self, scope: _Scope, out: list[str]) -> None:
        scope.placeholders += 1
        text = _render(self.ref.lookup(scope))
        if text is not None:
            scope.found += 1
            out.append(text)


def _render_all(nodes: list[_Node], scope: _Scope, out: list[str]) -> None:
    for node in nodes:
        node.render(scope, out)


class _Block:
    """`#if`, `#unless` or `#each` with its body and `{{else}}` branch."""

    __slots__ = ("body", "helper", "otherwise", "ref")

    def __init__(self, helper: str, ref: _Ref) -> None:
        self.helper = helper
        self.ref = ref
        self.body: list[_Node] = []
        self.otherwise: list[_Node] | None = None

    def render(self, scope: _Scope, out: list[str]) -> None:
        value = self.ref.lookup(scope)
        if self.helper == "each":
            if isinstance(value, list | tuple) and value:
                self._each(value, scope, out)
                return
            branch = self.otherwise
        else:
            branch = self.body if _truthy(value) != (self.helper == "unless") else self.otherwise
        if branch:
            _render_all(branch, scope, out)

    def _each(self, items: list[Any] | tuple[Any, ...], scope: _Scope, out: list[str]) -> None:
        frame = _Frame(len(items) - 1)
        scope.frames.append(frame)
        for index, item in enumerate(items):
            frame.index, frame.item = index, item
            _render_all(self.body, scope, out)
        scope.frames.pop()


class _Template(SourceExpression):
    __slots__ = ("_nodes",)

    def __init__(self, source: str, nodes: list[_Node], paths: frozenset[str]) -> None:
        super().__init__(source, paths)
        self._nodes = nodes

    def evaluate(self, record: Mapping[str, Any]) -> str | None:
        scope = _Scope(record)
        out: list[str] = []
        _render_all(self._nodes, scope, out)
        if scope.placeholders and not scope.found:
            return None
        text = "".join(out)
        return None if not text or text.isspace() else text


# --- template syntax -----------------------------------------------------------------------------


def _find_close(source: str, start: int, closer: str) -> int:
    """Index of `closer` after start, skipping quoted names; -1 when absent."""
    quote: str | None = None
    i = start
    while i < len(source):
        char = source[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = None
        elif char in ("'", '"'):
            quote = char
        elif source.startswith(closer, i):
            return i
        i += 1
    return -1


def _tokens(source: str) -> list[tuple[str, bool]]:
    """(text, is_tag) pieces; tag text is the stripped inside of the braces."""
    tokens: list[tuple[str, bool]] = []
    pos = 0
    while (start := source.find("{{", pos)) >= 0:
        tokens.append((source[pos:start], False))
        triple = source.startswith("{{{", start)
        opener, closer = ("{{{", "}}}") if triple else ("{{", "}}")
        end = _find_close(source, start + len(opener), closer)
        if end < 0:
            raise _SyntaxError(f"unbalanced braces: {opener!r} without {closer!r}")
        content = source[start + len(opener) : end].strip()
        if triple and (content[:1] in ("#", "/") or content == "else"):
            raise _SyntaxError("blocks cannot use triple braces")
        tokens.append((content, True))
        pos = end + len(closer)
    tokens.append((source[pos:], False))
    for text, is_tag in tokens:
        if not is_tag and "}}" in text:
            raise _SyntaxError("unbalanced braces: '}}' without '{{'")
    return tokens


@dataclass
class _Open:
    """A block being parsed; `prefix` is the element path inside an `#each` body."""

    block: _Block
    prefix: str | None


class _TemplateParser:
    def __init__(self) -> None:
        self.root: list[_Node] = []
        self.stack: list[_Open] = []
        self.paths: set[str] = set()

    @property
    def nodes(self) -> list[_Node]:
        if not self.stack:
            return self.root
        block = self.stack[-1].block
        return block.body if block.otherwise is None else block.otherwise

    @property
    def prefix(self) -> str | None:
        """Path of the innermost `#each` element in scope, None outside any `#each` body."""
        for frame in reversed(self.stack):
            if frame.prefix is not None and frame.block.otherwise is None:
                return frame.prefix
        return None

    def parse(self, source: str) -> _Template:
        for text, is_tag in _tokens(source):
            if is_tag:
                self.tag(text)
            elif text:
                self.nodes.append(_Text(text))
        if self.stack:
            raise _SyntaxError(f"{{{{#{self.stack[-1].block.helper}}}}} is not closed")
        return _Template(source, self.root, frozenset(self.paths))

    def tag(self, content: str) -> None:
        if not content:
            raise _SyntaxError("empty {{}}")
        if content[0] == "#":
            self.open(content[1:])
        elif content[0] == "/":
            self.close(content[1:].strip())
        elif content == "else":
            if not self.stack or self.stack[-1].block.otherwise is not None:
                raise _SyntaxError("{{else}} outside a block or repeated")
            self.stack[-1].block.otherwise = []
        else:
            self.nodes.append(_Output(self.operand(content)))

    def open(self, text: str) -> None:
        helper, *arguments = text.split(None, 1) or [""]
        if helper not in _BLOCKS:
            raise _SyntaxError(f"unknown block helper #{helper}")
        if not arguments:
            raise _SyntaxError(f"#{helper} needs an accessor")
        argument = arguments[0].strip()
        ref, path = self.reference(argument)
        if helper == "each" and path is None:
            raise _SyntaxError("#each needs an accessor of an array")
        block = _Block(helper, ref)
        self.nodes.append(block)
        self.stack.append(_Open(block, f"{path}[*]" if helper == "each" else None))

    def close(self, helper: str) -> None:
        if not self.stack or self.stack[-1].block.helper != helper:
            raise _SyntaxError(f"{{{{/{helper}}}}} does not close an open block")
        self.stack.pop()

    def operand(self, text: str) -> _Ref:
        if text[0] in ("'", '"'):
            value, end = _read_quoted(text, 0)
            if end != len(text):
                raise _SyntaxError(f"unexpected text after {text[:end]}")
            return _Literal(value)
        return self.reference(text)[0]

    def reference(self, text: str) -> tuple[_Ref, str | None]:
        """A data reference and the canonical path it reads (None for `@…` names)."""
        prefix = self.prefix
        if text[0] == "@":
            if prefix is None or text[1:] not in _DATA_NAMES:
                raise _SyntaxError(f"{text} is only known as @index, @first or @last inside #each")
            return _DataRef(text[1:]), None
        root, keys = _parse_accessor(text)
        if root == _ROOT:
            path = _ROOT + _format_keys(keys)
        elif root == "this" and prefix is not None:
            path = prefix + _format_keys(keys)
        else:
            raise _SyntaxError(f"{text} must be rooted at {_ROOT} (or `this` inside #each)")
        self.paths.add(path)
        return _PathRef(keys, local=root == "this"), path


@functools.lru_cache(maxsize=4096)
def compile_source(source: str) -> SourceExpression:
    """Compile an object type field's `Source`; raise Invalid naming it when it is not valid."""
    try:
        return _compile(source)
    except _SyntaxError as error:
        raise Invalid(f"Source {source!r} is not valid: {error}") from None


def _compile(source: str) -> SourceExpression:
    """A plain accessor when the text is one, else a template (when it has any `{{`)."""
    try:
        return _Accessor(source, _source_keys(source.strip()))
    except _SyntaxError:
        if "{{" not in source:
            raise
    return _TemplateParser().parse(source)


# --- targets -------------------------------------------------------------------------------------


def _profile_model() -> tuple[frozenset[str], tuple[str, ...]]:
    """Targetable `_profile` fields and the Address sub-fields, from botocore's model."""
    model = botocore.session.get_session().get_service_model("customer-profiles")
    address = tuple(model.shape_for("Address").members)
    fields: set[str] = set()
    for name, shape in model.shape_for("Profile").members.items():
        if name == "ProfileId":  # assigned by the service
            continue
        if shape.type_name == "string":
            fields.add(name)
        elif shape.name == "Address":
            fields.update(f"{name}.{sub}" for sub in address)
        # Attributes is the open map; lists (FoundByItems) and EngagementPreferences are not fields.
    return frozenset(fields), address


#: Every targetable `_profile` path relative to `_profile` (`FirstName`, `Address.City`, …),
#: besides `Attributes.<name>`.
PROFILE_FIELDS, _ADDRESS_FIELDS = _profile_model()
_ATTRIBUTES = "Attributes"
_ORDER_ADDRESSES = frozenset(
    f"{address}.{sub}" for address in ("BillingAddress", "ShippingAddress") for sub in ("Name", *_ADDRESS_FIELDS)
)
#: Fields of each standard object besides `Attributes.<name>` (aws-api.md 2.2–2.4).
_STANDARD_FIELDS = {
    "_profile": PROFILE_FIELDS,
    "_asset": frozenset((
        "AssetId", "AssetName", "SerialNumber", "ModelNumber", "ModelName", "ProductSKU", "PurchaseDate",
        "UsageEndDate", "Status", "Price", "Quantity", "Description", "AdditionalInformation", "DataSource",
    )),
    "_case": frozenset((
        "CaseId", "Title", "Summary", "Status", "Reason", "CreatedBy", "CreatedDate", "UpdatedDate",
        "ClosedDate", "AdditionalInformation", "DataSource",
    )),
    "_order": _ORDER_ADDRESSES | frozenset((
        "OrderId", "CustomerEmail", "CustomerPhone", "CreatedDate", "UpdatedDate", "ProcessedDate",
        "ClosedDate", "CancelledDate", "CancelReason", "Name", "AdditionalInformation", "Gateway", "Status",
        "StatusCode", "StatusUrl", "CreditCardNumber", "CreditCardCompany", "FulfillmentStatus", "TotalPrice",
        "TotalTax", "TotalDiscounts", "TotalItemsPrice", "TotalShippingPrice", "TotalTipReceived", "Currency",
        "TotalWeight", "OrderItems",
    )),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Target:
    """A field of a standard object; `path` is relative to the object named by `root`."""

    root: str
    path: tuple[str, ...]

    def __str__(self) -> str:
        return ".".join((self.root, *self.path))

    def set(self, document: dict[str, Any], value: str) -> None:
        """Write value into the `root` object's document, creating nested objects as needed."""
        node = document
        for key in self.path[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {}
            node = child
        node[self.path[-1]] = value

    def get(self, document: Mapping[str, Any]) -> Any:
        """The value at `path` in the `root` object's document, or None."""
        value: Any = document
        for key in self.path:
            if not isinstance(value, Mapping):
                return None
            value = value.get(key)
        return value


def _targetable(fields: frozenset[str], path: tuple[str, ...]) -> bool:
    if path[0] == _ATTRIBUTES:
        return len(path) == 2 and 1 <= len(path[1]) <= 255
    return ".".join(path) in fields


@functools.lru_cache(maxsize=4096)
def compile_target(target: str) -> Target:
    """Parse `_profile.FirstName`-style text; raise Invalid naming it unless the field exists."""
    root, _, rest = target.partition(".")
    fields = _STANDARD_FIELDS.get(root)
    if fields is None:
        raise Invalid(f"Target {target!r} must start with one of {', '.join(_STANDARD_FIELDS)}")
    path = tuple(rest.split("."))
    if not rest or not _targetable(fields, path):
        raise Invalid(f"Target {target!r} is not a field of the standard object {root}")
    return Target(root, path)
