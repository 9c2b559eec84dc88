"""The workflow document: reading JSON/YAML text, the checked `Document`, and dumping it back."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stormflow.core.statuses import Status
from stormflow.spec.entries import DocumentError, Entry, error, has_errors

SCHEMA_VERSIONS = (1,)
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,63}$"


@dataclass(frozen=True)
class NodeSpec:
    """An authored node: node-level keys plus its kind's parameters (normalised)."""

    name: str
    kind: str
    status: Status = Status.OPEN
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EdgeSpec:
    upstream: str
    downstream: str
    #: "frames" or "all"; None means the default (frames between two frame-ranged nodes).
    mode: str | None = None


@dataclass(frozen=True)
class Document:
    name: str
    nodes: tuple[NodeSpec, ...] = ()
    edges: tuple[EdgeSpec, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    schema: int = 1
    #: Time to live in seconds: the workflow expires that long after its submission (its
    #: running attempts are stopped, nothing more runs). None: it never expires.
    ttl: float | None = None

    def node(self, name: str) -> NodeSpec:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return dump_document(self)


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps timestamps as strings so documents stay JSON-serialisable."""


_Loader.add_constructor(
    "tag:yaml.org,2002:timestamp",
    lambda loader, node: loader.construct_scalar(node),  # type: ignore[arg-type]
)


#: Values a document may hold once YAML aliases are expanded: anchors keep documents short
#: (`<<: *defaults`), but ten nested levels of ten aliases ("billion laughs") would expand
#: to 10^10 values when the document is validated or stored as JSON.
MAX_EXPANDED_VALUES = 1_000_000


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _expanded_values(root: yaml.Node, limit: int) -> int:
    """How many values the composed document holds with every alias expanded, counting up
    to just past `limit`. Memoised: an anchored node is measured once however often it is
    referred to. A node inside itself (a recursive alias) is refused: JSON cannot hold it."""
    sizes: dict[int, int] = {}
    visiting: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_measured = stack.pop()
        key = id(node)
        if children_measured:
            sizes[key] = 1 + sum(sizes.get(id(k), 0) for k in _children(node))
            visiting.discard(key)
            if sizes[key] > limit:
                return sizes[key]
        elif key in visiting:  # an ancestor on the current path: not a document
            raise ValueError("a YAML alias refers to a node that contains it")
        elif key not in sizes:
            visiting.add(key)
            stack.append((node, True))
            stack.extend((k, False) for k in _children(node))
    return sizes[id(root)]


#: Lists and mappings inside each other, at most (a workflow needs five or six levels).
MAX_DEPTH = 100
TOO_DEEP = f"it nests lists and mappings more than {MAX_DEPTH} levels deep"


def _depth_over(root: yaml.Node, limit: int) -> bool:
    """Whether lists and mappings nest more than `limit` levels (iterative; aliases are
    followed, which _expanded_values has checked to be finite)."""
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    seen: dict[int, int] = {}
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if seen.get(id(node), 0) >= depth:
            continue
        seen[id(node)] = depth
        stack.extend((child, depth + 1) for child in _children(node))
    return False


def _load(text: str) -> tuple[object, yaml.Node | None]:
    loader = _Loader(text)
    try:
        try:
            root = loader.get_single_node()
        except RecursionError:  # PyYAML's parser recurses per level: far past MAX_DEPTH
            raise ValueError(TOO_DEEP) from None
        if root is not None and _expanded_values(root, MAX_EXPANDED_VALUES) > MAX_EXPANDED_VALUES:
            raise ValueError(
                f"it expands to more than {MAX_EXPANDED_VALUES:,} values (nested YAML aliases)"
            )
        if root is not None and _depth_over(root, MAX_DEPTH):
            raise ValueError(TOO_DEEP)
        return (loader.construct_document(root) if root is not None else None), root
    finally:
        loader.dispose()


def read_text(text: str) -> tuple[object, list[Entry], dict[str, int]]:
    """Parse JSON or YAML text. Returns (data, syntax entries, node name -> line)."""
    try:
        data, root = _load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        where = f" at line {line}" if line else ""
        return (
            None,
            [error("syntax", f"cannot parse the document{where}: {problem}", line=line)],
            {},
        )
    except (ValueError, RecursionError) as exc:
        return None, [error("syntax", f"cannot parse the document: {exc}")], {}
    return data, [], _node_lines(root)


def _node_lines(root: yaml.Node | None) -> dict[str, int]:
    """Line of each node's mapping, so messages can say where a node is."""
    lines: dict[str, int] = {}
    if not isinstance(root, yaml.MappingNode):
        return lines
    for key, value in root.value:
        if getattr(key, "value", None) != "nodes" or not isinstance(value, yaml.SequenceNode):
            continue
        for item in value.value:
            if not isinstance(item, yaml.MappingNode):
                continue
            for k, v in item.value:
                if getattr(k, "value", None) == "name" and isinstance(v, yaml.ScalarNode):
                    lines.setdefault(str(v.value), item.start_mark.line + 1)
    return lines


def read_file(path: str | Path) -> tuple[object, list[Entry], dict[str, int]]:
    """Read a document file; unreadable files become an entry, never an exception."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [error("unreadable-file", f"file not found: {p}")], {}
    except IsADirectoryError:
        return None, [error("unreadable-file", f"is a directory, not a document: {p}")], {}
    except (OSError, UnicodeDecodeError) as exc:
        return None, [error("unreadable-file", f"cannot read {p}: {exc}")], {}
    return read_text(text)


def check_document(source: str | Mapping[str, Any]) -> tuple[Document | None, list[Entry]]:
    """Validate text or data; the Document is returned only when there are no errors."""
    lines: dict[str, int] = {}
    if isinstance(source, str):
        data, entries, lines = read_text(source)
        if entries:
            return None, entries
    else:
        data = source
    return check_data(data, lines)


def check_data(
    data: object, lines: Mapping[str, int] | None = None
) -> tuple[Document | None, list[Entry]]:
    """Validate already-parsed data (any JSON-like value); a template is instantiated with
    its defaults (a param without one is an error naming it)."""
    from stormflow.spec.params import instantiate_checked, is_template
    from stormflow.spec.validate import validate

    if is_template(data):
        assert isinstance(data, Mapping)
        instance, problems = instantiate_checked(data, {})
        if instance is None:
            return None, problems
        data = instance

    entries = [_with_line(e, lines or {}) for e in validate(data)]
    if has_errors(entries) or not isinstance(data, Mapping):
        return None, entries
    return build_document(data), entries


def _with_line(entry: Entry, lines: Mapping[str, int]) -> Entry:
    if entry.line is None and entry.nodes and entry.nodes[0] in lines:
        from dataclasses import replace

        return replace(entry, line=lines[entry.nodes[0]])
    return entry


def parse_document(source: str | Mapping[str, Any]) -> Document:
    """Strict: the Document, or DocumentError carrying every entry."""
    document, entries = check_document(source)
    if document is None:
        raise DocumentError(entries)
    return document


def load_document(path: str | Path) -> Document:
    """Strict: read and check a JSON/YAML file; DocumentError if unreadable or invalid."""
    data, entries, lines = read_file(path)
    if not entries:
        document, entries = check_data(data, lines)
        if document is not None:
            return document
    raise DocumentError(entries, source=str(path))


def build_document(data: Mapping[str, Any]) -> Document:
    """Turn checked raw data into a Document (assumes validate() found no errors)."""
    from stormflow.spec.kinds import NODE_KEYS

    nodes = []
    for raw in data.get("nodes") or []:
        params = {k: normalise_param(k, v) for k, v in raw.items() if k not in NODE_KEYS}
        nodes.append(
            NodeSpec(
                name=raw["name"],
                kind=raw.get("kind", "task"),
                status=Status(raw.get("status", "open")),
                params=params,
            )
        )
    edges = []
    for raw in data.get("edges") or []:
        if isinstance(raw, list | tuple):
            edges.append(EdgeSpec(raw[0], raw[1]))
        else:
            edges.append(EdgeSpec(raw["from"], raw["to"], raw.get("mode")))
    return Document(
        name=data["name"],
        nodes=tuple(nodes),
        edges=tuple(edges),
        metadata=dict(data.get("metadata") or {}),
        schema=int(data.get("schema", 1)),
        ttl=None if data.get("ttl") is None else parse_ttl(data["ttl"]),
    )


_TTL_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
TTL_FORMAT = "seconds (a positive number) or a number with a unit s, m, h, d or w, such as 12h"


def parse_ttl(value: Any) -> float:
    """A time to live in seconds, from 3600 or "3600", "90m", "12h", "7d", "1.5w"."""
    if isinstance(value, bool):
        raise ValueError(f"ttl must be {TTL_FORMAT}, not {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip().lower()
        scale = _TTL_UNITS.get(text[-1])
        number = text[:-1] if scale is not None else text
        try:
            seconds = float(number) * (scale or 1.0)
        except ValueError:
            raise ValueError(f"ttl must be {TTL_FORMAT}, not {value!r}") from None
    else:
        raise ValueError(f"ttl must be {TTL_FORMAT}, not {value!r}")
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"ttl must be positive and finite, not {value!r}")
    return seconds


def normalise_param(key: str, value: Any) -> Any:
    """Frame specs are stored as strings whatever way they were written."""
    if key == "frames" and isinstance(value, int):
        return str(value)
    if key == "scout":
        if isinstance(value, list):
            return ",".join(str(v) for v in value)
        if isinstance(value, int):
            return str(value)
    return value


def dump_document(document: Document) -> dict[str, Any]:
    """The canonical dict form (what builder and YAML documents have in common)."""
    nodes = []
    for node in document.nodes:
        item: dict[str, Any] = {"name": node.name, "kind": node.kind}
        if node.status is not Status.OPEN:
            item["status"] = str(node.status)
        item.update(node.params)
        nodes.append(item)
    edges: list[Any] = []
    for edge in document.edges:
        if edge.mode is None:
            edges.append([edge.upstream, edge.downstream])
        else:
            edges.append({"from": edge.upstream, "to": edge.downstream, "mode": edge.mode})
    out: dict[str, Any] = {"schema": document.schema, "name": document.name}
    if document.metadata:
        out["metadata"] = dict(document.metadata)
    if document.ttl is not None:
        out["ttl"] = document.ttl
    out["nodes"] = nodes
    out["edges"] = edges
    return out


def to_yaml(document: Document | Mapping[str, Any]) -> str:
    data = dump_document(document) if isinstance(document, Document) else dict(document)
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100)


def to_json(document: Document | Mapping[str, Any], indent: int | None = 2) -> str:
    data = dump_document(document) if isinstance(document, Document) else dict(document)
    return json.dumps(data, indent=indent)
