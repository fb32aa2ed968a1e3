"""Just enough PromQL for the checked-in alert rules and dashboard.

:func:`metric_names` lists the metric names a PromQL expression reads (any expression: it works on
tokens, skipping label matchers, range and offset durations, functions, aggregations, keywords
and Grafana's ``$variables``); CI checks them against what the services export
(tests/unit/deploy/test_observability.py).

:func:`evaluate` runs the small subset the dashboard's panels use — ``sum|min|max|avg|count
[by (…)] (…)``, ``rate``, ``increase``, ``histogram_quantile`` and selectors with ``=``, ``!=``,
``=~`` and ``!~`` matchers — over scraped snapshots, for the dashboard's rendered preview
(deploy/grafana/render_preview.py). Rates are taken between the first and last sample of the
window, without Prometheus's extrapolation. With ``absent_as_zero`` a series that a snapshot of
the window lacks but a later one has counts as 0 there: right for counters recorded from their
process's start, whose labelled series appear only with their first increment (Prometheus itself
cannot know that, and misses that first one).
"""

from __future__ import annotations

import itertools
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    |(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
    |(?P<variable>\$\{[^}]*\}|\$\w+)
    |(?P<number>0[xX][0-9a-fA-F]+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?(?:(?:ms|[smhdwy])\d*)*)
    |(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)
    |(?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=(){}\[\],@])
    """,
    re.VERBOSE,
)

AGGREGATIONS = frozenset(
    {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values"}
    | {"bottomk", "topk", "quantile", "limitk", "limit_ratio"}
)
GROUPING = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
KEYWORDS = GROUPING | {"and", "or", "unless", "offset", "bool", "atan2", "inf", "nan"}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str


def tokens(expr: str) -> list[Token]:
    """The expression's tokens, spaces left out; a character PromQL has no use for is an error."""
    found: list[Token] = []
    position = 0
    while position < len(expr):
        match = _TOKEN.match(expr, position)
        if match is None:
            raise ValueError(f"unexpected {expr[position]!r} at {position} in {expr!r}")
        kind = match.lastgroup or ""
        if kind != "space":
            found.append(Token(kind, match.group()))
        position = match.end()
    return found


def _closing(found: Sequence[Token], start: int) -> int:
    """The index of the bracket that closes the one at ``start``."""
    pairs = {"(": ")", "{": "}", "[": "]"}
    opening = found[start].text
    depth = 0
    for index in range(start, len(found)):
        if found[index].text == opening:
            depth += 1
        elif found[index].text == pairs[opening]:
            depth -= 1
            if depth == 0:
                return index
    raise ValueError(f"unclosed {opening!r}")


def metric_names(expr: str) -> set[str]:
    """The metric names ``expr`` selects (``name{…}``, ``name[…]`` or a bare ``name``)."""
    found = tokens(expr)
    names: set[str] = set()
    index = 0
    while index < len(found):
        token = found[index]
        following = found[index + 1].text if index + 1 < len(found) else ""
        if token.text in ("{", "["):  # label matchers or a range: no metric names inside
            index = _closing(found, index) + 1
            continue
        if token.kind == "name":
            if token.text.lower() in GROUPING and following == "(":
                index = _closing(found, index + 1) + 1  # a list of label names
                continue
            is_call = following == "(" or token.text in AGGREGATIONS
            if not is_call and token.text.lower() not in KEYWORDS:
                names.add(token.text)
        index += 1
    return names


# -- the evaluator, for the preview


@dataclass(frozen=True)
class Sample:
    name: str
    labels: Mapping[str, str]
    value: float


@dataclass(frozen=True)
class Snapshot:
    """Every series of every target at one moment (seconds from the start of the recording)."""

    at: float
    samples: Sequence[Sample]


Labels = tuple[tuple[str, str], ...]
Vector = dict[Labels, float]


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.label, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = re.fullmatch(self.value, actual) is not None
        return found if self.op == "=~" else not found


@dataclass(frozen=True)
class Selector:
    name: str
    matchers: tuple[Matcher, ...]
    range_s: float | None = None


@dataclass(frozen=True)
class Call:
    function: str
    arguments: tuple[Node, ...]
    grouping: tuple[str, ...] = field(default=())


Node = Selector | Call | float

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def duration_s(text: str) -> float:
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|[smhdwy])", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r}")
    return sum(float(number) * _UNITS[unit] for number, unit in parts)


class _Parser:
    def __init__(self, expr: str) -> None:
        self.found = tokens(expr)
        self.index = 0

    def peek(self) -> str:
        return self.found[self.index].text if self.index < len(self.found) else ""

    def take(self, expected: str | None = None) -> Token:
        if self.index >= len(self.found):
            raise ValueError("unexpected end of expression")
        token = self.found[self.index]
        if expected is not None and token.text != expected:
            raise ValueError(f"expected {expected!r}, found {token.text!r}")
        self.index += 1
        return token

    def parse(self) -> Node:
        node = self.node()
        if self.index != len(self.found):
            raise ValueError(f"the preview cannot evaluate {self.peek()!r} here")
        return node

    def node(self) -> Node:
        token = self.take()
        if token.kind == "number":
            return float(token.text)
        if token.kind != "name":
            raise ValueError(f"unexpected {token.text!r}")
        if token.text in AGGREGATIONS or self.peek() == "(":
            return self.call(token.text)
        return self.selector(token.text)

    def call(self, function: str) -> Call:
        grouping: tuple[str, ...] = ()
        if self.peek() == "by":
            self.take()
            grouping = self.labels()
        self.take("(")
        arguments = [self.node()]
        while self.peek() == ",":
            self.take()
            arguments.append(self.node())
        self.take(")")
        return Call(function, tuple(arguments), grouping)

    def labels(self) -> tuple[str, ...]:
        self.take("(")
        names: list[str] = []
        while self.peek() != ")":
            names.append(self.take().text)
            if self.peek() == ",":
                self.take()
        self.take(")")
        return tuple(names)

    def selector(self, name: str) -> Selector:
        matchers: list[Matcher] = []
        if self.peek() == "{":
            self.take()
            while self.peek() != "}":
                label = self.take().text
                op = self.take().text
                value = self.take().text[1:-1].encode().decode("unicode_escape")
                matchers.append(Matcher(label, op, value))
                if self.peek() == ",":
                    self.take()
            self.take("}")
        range_s = None
        if self.peek() == "[":
            self.take()
            range_s = duration_s(self.take().text)
            self.take("]")
        return Selector(name, tuple(matchers), range_s)


def parse(expr: str) -> Node:
    """The expression as the evaluator's tree; ValueError for what it does not support."""
    return _Parser(expr).parse()


def _key(labels: Mapping[str, str]) -> Labels:
    return tuple(sorted(labels.items()))


def _select(selector: Selector, snapshot: Snapshot) -> Iterator[tuple[Labels, float]]:
    for sample in snapshot.samples:
        if sample.name == selector.name and all(m.matches(sample.labels) for m in selector.matchers):
            yield _key(sample.labels), sample.value


def _over_time(
    selector: Selector, history: Sequence[Snapshot], at: int, increase: bool, absent_as_zero: bool
) -> Vector:
    window = selector.range_s or 0.0
    points: dict[Labels, list[tuple[float, float]]] = defaultdict(list)
    seen: list[tuple[float, dict[Labels, float]]] = [
        (snapshot.at, dict(_select(selector, snapshot)))
        for snapshot in history[: at + 1]
        if snapshot.at > history[at].at - window
    ]
    for index, (moment, values) in enumerate(seen):
        later = set().union(*(v for _, v in seen[index:])) if absent_as_zero else set(values)
        for labels in later:
            points[labels].append((moment, values.get(labels, 0.0)))
    result: Vector = {}
    for labels, series in points.items():
        if len(series) < 2:
            continue
        grown = sum(b - a if b >= a else b for (_, a), (_, b) in itertools.pairwise(series))
        elapsed = series[-1][0] - series[0][0]
        result[labels] = grown if increase else grown / elapsed
    return result


_COMBINE: dict[str, Callable[[list[float]], float]] = {
    "sum": lambda values: float(sum(values)),
    "min": min,
    "max": max,
    "avg": lambda values: sum(values) / len(values),
    "count": lambda values: float(len(values)),
}


def _aggregate(call: Call, vector: Vector) -> Vector:
    groups: dict[Labels, list[float]] = defaultdict(list)
    for labels, value in vector.items():
        groups[tuple((k, v) for k, v in labels if k in call.grouping)].append(value)
    combine = _COMBINE[call.function]
    return {labels: combine(values) for labels, values in groups.items()}


def _quantile(q: float, vector: Vector) -> Vector:
    """Prometheus's ``histogram_quantile``: linear within the bucket the rank falls in."""
    histograms: dict[Labels, list[tuple[float, float]]] = defaultdict(list)
    for labels, value in vector.items():
        le = dict(labels).get("le")
        if le is not None:
            histograms[tuple((k, v) for k, v in labels if k != "le")].append((float(le), value))
    result: Vector = {}
    for labels, buckets in histograms.items():
        buckets.sort()
        total = buckets[-1][1]
        if total <= 0 or not math.isinf(buckets[-1][0]):
            continue
        rank = q * total
        lower_bound, lower_count = 0.0, 0.0
        for bound, count in buckets:
            if count >= rank:
                if math.isinf(bound):
                    result[labels] = lower_bound
                else:
                    share = (rank - lower_count) / (count - lower_count) if count > lower_count else 0.0
                    result[labels] = lower_bound + (bound - lower_bound) * share
                break
            lower_bound, lower_count = bound, count
    return result


def evaluate(node: Node, history: Sequence[Snapshot], at: int, absent_as_zero: bool = False) -> Vector:
    """The instant vector ``node`` has at ``history[at]``."""
    if isinstance(node, float):
        return {(): node}
    if isinstance(node, Selector):
        return dict(_select(node, history[at]))
    if node.function in ("rate", "increase"):
        (selector,) = node.arguments
        if not isinstance(selector, Selector) or selector.range_s is None:
            raise ValueError(f"{node.function} needs a range selector")
        return _over_time(selector, history, at, node.function == "increase", absent_as_zero)
    if node.function == "histogram_quantile":
        q, inner = node.arguments
        if not isinstance(q, float):
            raise ValueError("histogram_quantile needs a number first")
        return _quantile(q, evaluate(inner, history, at, absent_as_zero))
    if node.function in _COMBINE:
        (inner,) = node.arguments
        return _aggregate(node, evaluate(inner, history, at, absent_as_zero))
    raise ValueError(f"the preview cannot evaluate {node.function}()")
