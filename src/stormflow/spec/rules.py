"""The built-in validation rules, one function per rule, registered like studio rules."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any, TypeGuard

from stormflow.core.statuses import SUBMITTABLE
from stormflow.kinds import all_kinds, kind_names
from stormflow.spec import fixers as fx
from stormflow.spec import limits
from stormflow.spec.document import NAME_PATTERN, SCHEMA_VERSIONS, parse_ttl
from stormflow.spec.entries import Entry, Fixer, error, info, warning
from stormflow.spec.frames import (
    FrameSpecError,
    chunk_count,
    parse_frames,
    progression_step,
    type_name,
)
from stormflow.spec.text import unstorable
from stormflow.spec.tokens import frame_tokens_in
from stormflow.spec.validate import RawNode, RuleContext, register_rule, suggest

#: Above this many nodes after expansion, validation warns.
MAX_TASKS = 100_000
TOP_KEYS = ("schema", "name", "metadata", "ttl", "params", "nodes", "edges")
EDGE_MODES = ("frames", "all")
_NAME = re.compile(NAME_PATTERN)


def _did_you_mean(suggestion: str | None) -> str:
    return f"; did you mean {suggestion!r}?" if suggestion else ""


@register_rule
def document_structure(ctx: RuleContext) -> Iterator[Entry]:
    """The top level is a mapping with a list of node mappings and a list of edges."""
    if not isinstance(ctx.data, dict):
        yield error(
            "not-a-mapping",
            f"a workflow document must be a mapping with name, nodes and edges, "
            f"not {type_name(ctx.data)}",
        )
        return
    for key in ctx.top:
        if key in TOP_KEYS:
            continue
        guess = suggest(key, TOP_KEYS)
        fixes = [fx.rename_top(key, guess)] if guess and guess not in ctx.top else []
        fixes.append(fx.drop_top(str(key)))
        yield error(
            "unknown-field",
            f"unknown top-level field {key!r}{_did_you_mean(guess)}",
            field=str(key),
            fixers=tuple(fixes),
        )
    nodes = ctx.top.get("nodes")
    if nodes is None:
        yield error("missing-nodes", "the document has no 'nodes' list", field="nodes")
    elif not isinstance(nodes, list):
        yield error("bad-type", f"'nodes' must be a list, not {type_name(nodes)}", field="nodes")
    else:
        if not nodes:
            yield warning("empty-workflow", "the workflow has no nodes", field="nodes")
        for index, node in enumerate(nodes):
            if not isinstance(node, dict):
                yield error(
                    "bad-node",
                    f"nodes[{index}] must be a mapping with name and kind, not {type_name(node)}",
                    field=f"nodes[{index}]",
                    fixers=(fx.drop_node_at(index),),
                )
    edges = ctx.top.get("edges", [])
    if not isinstance(edges, list):
        yield error("bad-type", f"'edges' must be a list, not {type_name(edges)}", field="edges")
        return
    well_formed = {e.index for e in ctx.edges}
    for index, edge in enumerate(edges):
        if index not in well_formed:
            yield error(
                "bad-edge",
                f"edges[{index}] must be [upstream, downstream] or "
                f"{{from: upstream, to: downstream, mode: frames|all}}, got {edge!r:.80}",
                field=f"edges[{index}]",
                fixers=(fx.drop_edge_at(index),),
            )


@register_rule
def schema_version(ctx: RuleContext) -> Iterator[Entry]:
    if "schema" not in ctx.top:
        return
    schema = ctx.top["schema"]
    if isinstance(schema, bool) or schema not in SCHEMA_VERSIONS:
        known = ", ".join(str(v) for v in SCHEMA_VERSIONS)
        yield error(
            "unknown-schema",
            f"unknown schema version {schema!r}; this Storm reads schema {known}",
            field="schema",
            fixers=(
                fx.set_top("schema", SCHEMA_VERSIONS[-1], f"set-schema:{SCHEMA_VERSIONS[-1]}"),
            ),
        )


@register_rule
def workflow_name(ctx: RuleContext) -> Iterator[Entry]:
    if not isinstance(ctx.data, dict):
        return
    name = ctx.top.get("name")
    if name is None:
        yield error(
            "missing-name",
            "the workflow has no name",
            field="name",
            fixers=(fx.set_top("name", "workflow", "set-name:workflow"),),
        )
    elif not isinstance(name, str) or not _NAME.match(name):
        fixed = fx.sanitize_name(str(name))
        yield error(
            "bad-name",
            f"workflow name {name!r} must start with a letter and hold up to 64 letters, "
            f"digits, '_' or '-'",
            field="name",
            fixers=(fx.set_top("name", fixed, f"set-name:{fixed}"),),
        )


@register_rule
def metadata_mapping(ctx: RuleContext) -> Iterator[Entry]:
    metadata = ctx.top.get("metadata")
    if metadata is None:
        return
    if not isinstance(metadata, dict) or not all(isinstance(k, str) for k in metadata):
        yield error(
            "bad-metadata",
            "metadata must be a mapping with string keys",
            field="metadata",
            fixers=(fx.drop_top("metadata"),),
        )


@register_rule
def storable_text(ctx: RuleContext) -> Iterator[Entry]:
    """No string of the document holds a NUL character or a lone surrogate (no database
    stores them)."""
    found = unstorable(ctx.data)
    if found is not None:
        path, what = found
        yield error("unstorable-text", f"{path} {what}, which cannot be stored", field=path)


@register_rule
def ttl_value(ctx: RuleContext) -> Iterator[Entry]:
    """`ttl`, if given, is a positive duration (`parse_ttl`)."""
    ttl = ctx.top.get("ttl")
    if ttl is None:
        return
    try:
        parse_ttl(ttl)
    except ValueError as exc:
        yield error("bad-ttl", str(exc), field="ttl", fixers=(fx.drop_top("ttl"),))


@register_rule
def node_names(ctx: RuleContext) -> Iterator[Entry]:
    """Every node has a unique, valid name (chunks add '.<frames>' to it)."""
    taken = set(ctx.names)
    for node in ctx.nodes:
        raw_name = node.raw.get("name")
        if node.name is None:
            new = fx.free_name(f"node_{node.index}", taken)
            yield error(
                "missing-node-name",
                f"nodes[{node.index}] has no name (a string)"
                + (f", it has {raw_name!r}" if raw_name is not None else ""),
                field=f"nodes[{node.index}].name",
                fixers=(fx.name_node(node.index, new),),
            )
            taken.add(new)
        elif not _NAME.match(node.name):
            new = fx.free_name(fx.sanitize_name(node.name), taken)
            yield error(
                "bad-node-name",
                f"node name {node.name!r} must start with a letter and hold up to 64 letters, "
                f"digits, '_' or '-'",
                nodes=(node.name,),
                field="name",
                fixers=(fx.rename_node(node.index, node.name, new),),
            )
            taken.add(new)
    for name, count in ctx.names.items():
        if count > 1:
            yield error(
                "duplicate-name",
                f"{count} nodes are named {name!r}; node names must be unique",
                nodes=(name,),
                field="name",
                fixers=(fx.rename_duplicates(name, taken),),
            )


@register_rule
def node_kind(ctx: RuleContext) -> Iterator[Entry]:
    for node in ctx.nodes:
        if node.kind is not None:
            continue
        guess = suggest(node.kind_name, kind_names())
        fixes = (
            (fx.set_key(node.index, node.name, "kind", guess, f"set-kind:{node.label}:{guess}"),)
            if guess
            else ()
        )
        yield error(
            "unknown-kind",
            f"node {node.label!r} has unknown kind {node.kind_name!r}{_did_you_mean(guess)} "
            f"(kinds: {', '.join(kind_names())})",
            nodes=_names(node),
            field="kind",
            fixers=fixes,
        )


@register_rule
def node_status(ctx: RuleContext) -> Iterator[Entry]:
    allowed = sorted(str(s) for s in SUBMITTABLE)
    for node in ctx.nodes:
        status = node.raw.get("status", "open")
        if status not in allowed:
            yield error(
                "bad-status",
                f"node {node.label!r} has status {status!r}; a node is submitted "
                f"{' or '.join(allowed)}",
                nodes=_names(node),
                field="status",
                fixers=(
                    fx.set_key(
                        node.index, node.name, "status", "open", f"set-status:{node.label}:open"
                    ),
                ),
            )


@register_rule
def node_params(ctx: RuleContext) -> Iterator[Entry]:
    """Known parameters only, each of its type; required ones present."""
    for node in ctx.nodes:
        kind = node.kind
        if kind is None:
            continue
        for key, value in node.params.items():
            param = kind.params.get(key) if isinstance(key, str) else None
            if param is None:
                guess = suggest(key, kind.params)
                fixes = []
                if guess and guess not in node.params:
                    fixes.append(fx.rename_key(node.index, node.name, str(key), guess))
                fixes.append(fx.drop_key(node.index, node.name, str(key)))
                yield error(
                    "unknown-param",
                    f"node {node.label!r} ({kind.name}) has unknown parameter "
                    f"{key!r}{_did_you_mean(guess)}",
                    nodes=_names(node),
                    field=str(key),
                    fixers=tuple(fixes),
                )
            elif not param.check(value):
                yield error(
                    "bad-param-type",
                    f"node {node.label!r}: {key} must be {param.expected}, "
                    f"got {type_name(value)} {_short(value)}",
                    nodes=_names(node),
                    field=key,
                )
        for param in kind.params.values():
            if param.required and param.name not in node.params:
                yield error(
                    "missing-param",
                    f"node {node.label!r} ({kind.name}) needs {param.name!r}: {param.description}",
                    nodes=_names(node),
                    field=param.name,
                )


@register_rule
def kind_rules(ctx: RuleContext) -> Iterator[Entry]:
    """The rules each kind brings for its own nodes (kinds/<kind>.py)."""
    for kind in all_kinds():
        for rule in kind.rules:
            yield from rule(ctx)


@register_rule
def frame_ranges(ctx: RuleContext) -> Iterator[Entry]:
    """frames parse; chunk_size fits; scout frames parse and lie inside the range."""
    for node in ctx.nodes:
        if node.kind is None or not node.kind.frame_ranged:
            continue
        p = node.params
        spec = p.get("frames")
        frange = None
        if spec is not None:
            try:
                frange = parse_frames(spec)
            except FrameSpecError as exc:
                yield error(
                    "bad-frames", f"node {node.label!r}: {exc}", nodes=_names(node), field="frames"
                )
        size = p.get("chunk_size")
        if size is not None and isinstance(size, int) and not isinstance(size, bool):
            if size < 1:
                yield error(
                    "bad-chunk-size",
                    f"node {node.label!r}: chunk_size must be at least 1, got {size}",
                    nodes=_names(node),
                    field="chunk_size",
                    fixers=(
                        fx.set_key(
                            node.index,
                            node.name,
                            "chunk_size",
                            1,
                            f"set-chunk-size:{node.label}:1",
                        ),
                    ),
                )
            elif frange is not None and size > len(frange):
                yield warning(
                    "chunk-size-too-large",
                    f"node {node.label!r}: chunk_size {size} is larger than its "
                    f"{len(frange)} frames ({frange.spec})",
                    nodes=_names(node),
                    field="chunk_size",
                    fixers=(
                        fx.set_key(
                            node.index,
                            node.name,
                            "chunk_size",
                            len(frange),
                            f"clamp-chunk-size:{node.label}",
                        ),
                    ),
                )
        for key in ("chunk_size", "scout"):
            if key in p and spec is None:
                yield warning(
                    "needs-frames",
                    f"node {node.label!r}: {key} has no effect without frames",
                    nodes=_names(node),
                    field=key,
                    fixers=(fx.drop_key(node.index, node.name, key),),
                )
        yield from _scout(node, frange)
        yield from _frame_tokens(node, frange is not None or spec is not None)
        if frange is not None and progression_step(frange.frames) is None and len(frange) > 1:
            texts = _command_texts(p.get("commands"))
            if any(frame_tokens_in(t) & {"start", "end"} for t in texts):
                yield warning(
                    "chunk-spans-gaps",
                    f"node {node.label!r}: frames {frange.spec!r} are not one evenly stepped "
                    f"range, so {{start}}-{{end}} of a chunk may include frames outside it; "
                    f"use {{frames}} (the explicit list) instead",
                    nodes=_names(node),
                    field="commands",
                )


def _scout(node: RawNode, frange: Any) -> Iterator[Entry]:
    scout = node.params.get("scout")
    if scout is None or scout == []:
        return
    try:
        frames = _scout_frames(scout)
    except FrameSpecError as exc:
        yield error(
            "bad-scout",
            f"node {node.label!r}: scout: {exc}",
            nodes=_names(node),
            field="scout",
            fixers=(fx.drop_key(node.index, node.name, "scout"),),
        )
        return
    if frange is None:
        return
    inside = set(frange.frames)
    outside = [f for f in frames if f not in inside]
    if not outside:
        return
    kept = [f for f in frames if f in inside]

    def drop_outside(raw: dict[str, Any]) -> None:
        if kept:
            raw["scout"] = ",".join(str(f) for f in kept)
        else:
            raw.pop("scout", None)

    yield error(
        "scout-outside-range",
        f"node {node.label!r}: scout frames {','.join(map(str, outside))} are outside its "
        f"frames {frange.spec}",
        nodes=_names(node),
        field="scout",
        fixers=(
            fx.edit_node(
                node.index,
                node.label,
                f"drop-scout-outside:{node.label}",
                f"remove scout frames outside {frange.spec}",
                drop_outside,
            ),
        ),
    )


def _scout_frames(scout: object) -> tuple[int, ...]:
    if isinstance(scout, list):
        if not all(isinstance(f, int) and not isinstance(f, bool) for f in scout):
            raise FrameSpecError("scout frames must be whole numbers")
        return tuple(scout)
    return parse_frames(scout).frames


def _command_texts(commands: object) -> Iterator[str]:
    if not isinstance(commands, list):
        return
    for command in commands:
        if isinstance(command, str):
            yield command
        elif isinstance(command, list):
            yield from (a for a in command if isinstance(a, str))


def _frame_tokens(node: RawNode, has_frames: bool) -> Iterator[Entry]:
    if has_frames:
        return
    used = set()
    for text in _command_texts(node.params.get("commands")):
        used |= frame_tokens_in(text)
    if used:
        tokens = ", ".join("{" + t + "}" for t in sorted(used))
        yield error(
            "frame-token-without-frames",
            f"node {node.label!r} uses {tokens} in its commands but has no frames",
            nodes=_names(node),
            field="commands",
        )


@register_rule
def edge_endpoints(ctx: RuleContext) -> Iterator[Entry]:
    names = set(ctx.names)
    counts = Counter((e.upstream, e.downstream) for e in ctx.edges)
    for edge in ctx.edges:
        up, down = edge.upstream, edge.downstream
        missing = [n for n in (up, down) if n not in names]
        if missing:
            hints = "".join(_did_you_mean(suggest(n, names)) for n in missing[:1])
            yield error(
                "unknown-edge-node",
                f"edge {up} -> {down} names unknown node {missing[0]!r}{hints}",
                nodes=(up, down),
                field=f"edges[{edge.index}]",
                fixers=(fx.drop_edge(up, down),),
            )
        elif up == down:
            yield error(
                "self-edge",
                f"edge {up} -> {down} links a node to itself",
                nodes=(up,),
                field=f"edges[{edge.index}]",
                fixers=(fx.drop_edge(up, down),),
            )
        if edge.mode is not None and edge.mode not in EDGE_MODES:
            yield error(
                "bad-edge-mode",
                f"edge {up} -> {down} has mode {edge.mode!r}; use 'frames' or 'all'",
                nodes=(up, down),
                field=f"edges[{edge.index}].mode",
                fixers=(_drop_mode(edge.index, up, down),),
            )
        elif edge.mode == "frames" and not missing:
            plain = [
                n
                for n in (up, down)
                if (raw := ctx.node(n)) is None or ctx.frame_range(raw) is None
            ]
            if plain:
                yield info(
                    "frames-mode-ignored",
                    f"edge {up} -> {down}: mode frames needs frames on both ends, "
                    f"{plain[0]!r} has none, so every chunk is linked",
                    nodes=(up, down),
                    field=f"edges[{edge.index}].mode",
                )
    for (up, down), count in counts.items():
        if count > 1:
            yield warning(
                "duplicate-edge",
                f"edge {up} -> {down} is given {count} times",
                nodes=(up, down),
                field="edges",
                fixers=(fx.dedupe_edges(),),
            )


def _drop_mode(index: int, up: str, down: str) -> Fixer:
    def edit(doc: dict[str, Any]) -> None:
        edges = doc.get("edges")
        if isinstance(edges, list) and 0 <= index < len(edges) and isinstance(edges[index], dict):
            edges[index].pop("mode", None)

    return Fixer(f"drop-edge-mode:{up}:{down}", f"use the default mode for {up} -> {down}", edit)


@register_rule
def cycles(ctx: RuleContext) -> Iterator[Entry]:
    """The graph is acyclic; each cycle is named in order, with the edge that closes it."""
    names = set(ctx.names)
    graph: dict[str, list[str]] = defaultdict(list)
    for edge in ctx.edges:
        up, down = edge.upstream, edge.downstream
        if up in names and down in names and up != down and down not in graph[up]:
            graph[up].append(down)
    for cycle in find_cycles(graph, [n.name for n in ctx.nodes if n.name is not None]):
        closing = (cycle[-1], cycle[0])
        path = " -> ".join([*cycle, cycle[0]])
        yield error(
            "cycle",
            f"the edges {path} form a cycle",
            nodes=tuple(cycle),
            field="edges",
            fixers=(fx.drop_edge(*closing),),
        )


def find_cycles(graph: dict[str, list[str]], order: list[str]) -> list[list[str]]:
    """One cycle per strongly connected component with 2+ nodes (iterative Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in order:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            children = graph.get(node, [])
            if i < len(children):
                work.append((node, i + 1))
                child = children[i]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(component)
    position = {name: i for i, name in reversed(list(enumerate(order)))}
    return [_cycle_in(graph, set(c), min(c, key=position.__getitem__)) for c in components]


def _cycle_in(graph: dict[str, list[str]], members: set[str], start: str) -> list[str]:
    """A simple cycle through start inside one component (BFS back to start)."""
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for child in graph.get(node, []):
                if child not in members:
                    continue
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return path[::-1]
                if child not in parents:
                    parents[child] = node
                    nxt.append(child)
        frontier = nxt
    return [start]


def _node_counts(ctx: RuleContext) -> dict[str, int]:
    """How many nodes each authored node expands to (1 unless it has frames or for_each)."""
    counts: dict[str, int] = {}
    for node in ctx.nodes:
        frange = ctx.frame_range(node)
        count = 1 if frange is None else chunk_count(len(frange), ctx.chunk_size(node))
        for_each = node.params.get("for_each")
        if node.kind is not None and "for_each" in node.kind.params and isinstance(for_each, list):
            count = max(len(for_each), 1)
        if node.name is not None:
            counts[node.name] = count
    return counts


@register_rule
def task_count(ctx: RuleContext) -> Iterator[Entry]:
    """Many nodes are a warning; more than the limit per workflow an error (hard limit)."""
    counts = _node_counts(ctx)
    total = sum(counts.values()) + sum(1 for n in ctx.nodes if n.name is None)
    most = limits.current().max_nodes
    if total > most:
        yield error(
            "too-many-nodes",
            f"the workflow expands to {total} nodes, more than the limit of {most} per "
            f"workflow: use a larger chunk_size or split it ({limits.how_to_raise('max_nodes')})",
            field="nodes",
        )
    elif total > MAX_TASKS:
        yield warning(
            "too-many-tasks",
            f"the workflow expands to {total} nodes (more than {MAX_TASKS}); "
            f"consider larger chunk_size",
            field="nodes",
        )


#: Automatic retries allowed per node: a slip (`retries: 100000`) must not rerun a broken
#: task for days.
MAX_RETRIES = 100


def _number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


@register_rule
def lifecycle_bounds(ctx: RuleContext) -> Iterator[Entry]:
    """Retries within MAX_RETRIES; min_seconds no larger than max_seconds."""
    for node in ctx.nodes:
        if node.kind is None:
            continue
        p = node.params
        for key in ("retries", "lost_retries"):
            value = p.get(key)
            if key in node.kind.params and _number(value) and value > MAX_RETRIES:
                yield error(
                    "too-many-retries",
                    f"node {node.label!r}: {key} must be at most {MAX_RETRIES}, got {value}",
                    nodes=_names(node),
                    field=key,
                )
        low, high = p.get("min_seconds"), p.get("max_seconds")
        if _number(low) and _number(high) and high > 0 and low > high:
            yield error(
                "min-above-max",
                f"node {node.label!r}: min_seconds {low} is larger than max_seconds {high}",
                nodes=_names(node),
                field="min_seconds",
            )


@register_rule
def edge_count(ctx: RuleContext) -> Iterator[Entry]:
    """The edges the expansion makes, before it makes them: every chunk to every chunk for
    `mode: all` or a plain end; about one per chunk for `mode: frames`."""
    counts = _node_counts(ctx)
    ranged = {n.name for n in ctx.nodes if n.name is not None and ctx.frame_range(n) is not None}
    total = 0
    for edge in ctx.edges:
        up, down = counts.get(edge.upstream, 1), counts.get(edge.downstream, 1)
        both = edge.upstream in ranged and edge.downstream in ranged and edge.mode != "all"
        total += up + down - 1 if both else up * down
    most = limits.current().max_edges
    if total > most:
        yield error(
            "too-many-edges",
            f"the workflow expands to about {total} edges, more than the limit of {most} per "
            f"workflow (mode: all links every chunk to every chunk; "
            f"{limits.how_to_raise('max_edges')})",
            field="edges",
        )


@register_rule
def document_size(ctx: RuleContext) -> Iterator[Entry]:
    """No nesting deeper than the limit, no string longer than the limit."""
    bounds = limits.current()
    depth, longest = limits.depth_and_longest(ctx.data, bounds.max_depth)
    if depth > bounds.max_depth:
        yield error(
            "too-deep",
            f"the document nests lists and mappings more than {bounds.max_depth} deep "
            f"({limits.how_to_raise('max_depth')})",
        )
    if longest > bounds.max_string:
        yield error(
            "string-too-long",
            f"the document holds a string of {longest} characters, more than the limit of "
            f"{bounds.max_string} ({limits.how_to_raise('max_string')})",
        )


def _names(node: RawNode) -> tuple[str, ...]:
    return (node.name,) if node.name is not None else ()


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
