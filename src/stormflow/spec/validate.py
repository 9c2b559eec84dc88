"""Validation: a registry of rules run over raw document data, returning entries with fixers.

Rules see a tolerant `RuleContext` (well-formed parts only) so each rule can stay small
and none of them has to guard against every shape of bad input.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from stormflow.kinds import Kind as NodeKind
from stormflow.kinds import get_kind
from stormflow.spec.entries import Entry, error, sort_entries
from stormflow.spec.frames import FrameRange, FrameSpecError, parse_frames
from stormflow.spec.kinds import NODE_KEYS
from stormflow.spec.params import check_values, instantiate_checked, is_template, substitute


@dataclass
class RawNode:
    """A node mapping as written; `name` is None unless it is a string."""

    index: int
    raw: dict[str, Any]
    name: str | None
    kind_name: object
    kind: NodeKind | None
    params: dict[str, Any]

    @property
    def label(self) -> str:
        return self.name if self.name is not None else f"nodes[{self.index}]"

    @property
    def names(self) -> tuple[str, ...]:
        """The node's name for an entry's `nodes`: empty when it has none."""
        return (self.name,) if self.name is not None else ()


@dataclass
class RawEdge:
    index: int
    upstream: str
    downstream: str
    mode: object = None


@dataclass
class RuleContext:
    data: object
    top: dict[str, Any] = field(default_factory=dict)
    nodes: list[RawNode] = field(default_factory=list)
    edges: list[RawEdge] = field(default_factory=list)
    _ranges: dict[int, FrameRange | None] = field(default_factory=dict)

    @classmethod
    def of(cls, data: object) -> RuleContext:
        ctx = cls(data=data)
        if not isinstance(data, dict):
            return ctx
        ctx.top = data
        raw_nodes = data.get("nodes")
        if isinstance(raw_nodes, list):
            for index, raw in enumerate(raw_nodes):
                if not isinstance(raw, dict):
                    continue
                name = raw.get("name")
                kind_name = raw.get("kind", "task")
                kind = get_kind(kind_name) if isinstance(kind_name, str) else None
                params = {k: v for k, v in raw.items() if k not in NODE_KEYS}
                ctx.nodes.append(
                    RawNode(
                        index,
                        raw,
                        name if isinstance(name, str) else None,
                        kind_name,
                        kind,
                        params,
                    )
                )
        raw_edges = data.get("edges")
        if isinstance(raw_edges, list):
            for index, raw in enumerate(raw_edges):
                edge = parse_edge(index, raw)
                if edge is not None:
                    ctx.edges.append(edge)
        return ctx

    @property
    def names(self) -> Counter[str]:
        return Counter(n.name for n in self.nodes if n.name is not None)

    def node(self, name: str) -> RawNode | None:
        for node in self.nodes:
            if node.name == name:
                return node
        return None

    def frame_range(self, node: RawNode) -> FrameRange | None:
        """The node's parsed frames, or None when absent, invalid or not a ranged kind."""
        if node.index not in self._ranges:
            result = None
            spec = node.params.get("frames")
            if spec is not None and (node.kind is None or node.kind.frame_ranged):
                try:
                    result = parse_frames(spec)
                except FrameSpecError:
                    result = None
            self._ranges[node.index] = result
        return self._ranges[node.index]

    def chunk_size(self, node: RawNode) -> int:
        size = node.params.get("chunk_size", 1)
        if isinstance(size, int) and not isinstance(size, bool) and size >= 1:
            return size
        return 1


def parse_edge(index: int, raw: object) -> RawEdge | None:
    """An edge as [up, down] or {from, to, mode}; None when it is not well-formed."""
    if isinstance(raw, list) and len(raw) == 2 and all(isinstance(x, str) for x in raw):
        return RawEdge(index, raw[0], raw[1])
    if isinstance(raw, dict):
        up, down = raw.get("from"), raw.get("to")
        if isinstance(up, str) and isinstance(down, str):
            return RawEdge(index, up, down, raw.get("mode"))
    return None


Rule = Callable[[RuleContext], Iterable[Entry]]
R = TypeVar("R", bound=Rule)

_RULES: dict[str, Rule] = {}


def register_rule(rule: R) -> R:
    """Add a rule (usable as a decorator). Rules get a RuleContext and yield entries.

    Registering a function with the same qualified name replaces the earlier one, so
    reloading a studio's plugin module does not run its rules twice.
    """
    _RULES[f"{rule.__module__}.{rule.__qualname__}"] = rule
    return rule


def unregister_rule(rule: Rule) -> None:
    _RULES.pop(f"{rule.__module__}.{rule.__qualname__}", None)


def rules() -> list[Rule]:
    return list(_RULES.values())


def validate(document: object, values: Mapping[str, object] | None = None) -> list[Entry]:
    """Every entry for this JSON-like data, errors first. Never raises.

    A template (a document declaring `params`) is checked as its instance: with `values`,
    the one they make (a missing or ill-typed value is an error naming the param); without,
    one made of the defaults and a stand-in for each param that has none."""
    if values is not None or is_template(document):
        if not isinstance(document, Mapping):
            return [error("not-a-mapping", "a template must be a mapping")]
        if not is_template(document):
            problems = instantiate_checked(document, values)[1]
            if problems:
                return problems
        else:
            try:
                resolved, problems = check_values(document, values or {}, samples=values is None)
                if problems:
                    return sort_entries(problems)
                document = substitute(document, resolved)
            except RecursionError:  # nesting is limited, but the limit rule runs below
                return [error("too-deep", "the document nests lists and mappings too deep")]
    try:
        ctx = RuleContext.of(document)
    except Exception as exc:  # a bug here must still surface as an entry, not a crash
        return [error("internal", f"validation could not start: {exc!r}")]
    entries: list[Entry] = []
    for rule in rules():
        try:
            entries.extend(rule(ctx))
        except Exception as exc:  # plugin rules are third-party code
            name = getattr(rule, "__name__", repr(rule))
            entries.append(error("rule-failed", f"validation rule {name} failed: {exc!r}"))
    return sort_entries(entries)


def suggest(word: object, candidates: Iterable[str]) -> str | None:
    """The closest candidate ("did you mean"), if any is close enough."""
    if not isinstance(word, str):
        return None
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None
