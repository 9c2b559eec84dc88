"""Resolving `workflow` nodes: each node's `template` becomes an inline document and its
`for_each` an inline list, so the node's stored config needs nothing but itself to run.

A template is named three ways:
- a file path relative to the document (it holds a '/' or ends in .yaml, .yml or .json),
  read where the document is read (the CLI; a server reads no files a request names);
- the name of a template stored on the server (`storm templates add`), found by `lookup`;
- an inline document mapping.

Resolution follows children into their own workflow nodes, refusing a template that
includes itself at any depth (the chain is named) and nesting deeper than the limit
(`limits.current().max_workflow_depth`, default 8).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stormflow.spec import limits
from stormflow.spec.entries import DocumentError, Entry, error
from stormflow.spec.frames import type_name

WORKFLOW_KIND = "workflow"
FILE_SUFFIXES = (".yaml", ".yml", ".json")
FOR_EACH_SUFFIXES = (".csv", ".json")
#: Bytes of a file of shots: a sequence is hundreds of rows, not millions.
MAX_LIST_BYTES = 10_000_000

#: A stored template's document by name, or None when there is none of that name.
Lookup = Callable[[str], Mapping[str, Any] | None]


def is_file_reference(text: str) -> bool:
    """Whether a `template` string names a file (else it names a stored template)."""
    return "/" in text or "\\" in text or text.lower().endswith(FILE_SUFFIXES)


@dataclass(frozen=True)
class _Where:
    """Where resolution is: the chain of sources above (for recursion) and how nodes are
    named in messages (`seq > shots`)."""

    chain: tuple[str, ...]
    prefix: str
    base_dir: Path | None

    def label(self, node: str) -> str:
        return f"{self.prefix}{node}"


def resolve_checked(
    document: object,
    *,
    base_dir: str | Path | None = None,
    lookup: Lookup | None = None,
    source: str | None = None,
    strict: bool = True,
) -> tuple[Any, list[Entry]]:
    """(document with every workflow node's template and for_each inline, entries).

    base_dir: the directory file references are read from; None refuses them (a server).
    lookup: finds stored templates by name; None leaves names as written when not
    `strict` (a client sending a document to the server that holds them).
    source: what the document is ("file:/abs/seq.yaml", "template:shot"), so a child that
    includes it is refused as recursion.
    """
    if not isinstance(document, Mapping):
        return document, []
    base = Path(base_dir) if base_dir is not None else None
    chain = (source,) if source else ()
    entries: list[Entry] = []
    resolved = _resolve(document, _Where(chain, "", base), lookup, strict, entries, 0)
    return resolved, entries


def resolve(
    document: Mapping[str, Any],
    *,
    base_dir: str | Path | None = None,
    lookup: Lookup | None = None,
    source: str | None = None,
    strict: bool = True,
) -> dict[str, Any]:
    """Strict form of resolve_checked: raises DocumentError with every entry."""
    resolved, entries = resolve_checked(
        document, base_dir=base_dir, lookup=lookup, source=source, strict=strict
    )
    if entries:
        raise DocumentError(entries)
    out: dict[str, Any] = resolved
    return out


def _resolve(
    document: Mapping[str, Any],
    where: _Where,
    lookup: Lookup | None,
    strict: bool,
    entries: list[Entry],
    depth: int,
) -> dict[str, Any]:
    out = dict(document)
    nodes = document.get("nodes")
    if not isinstance(nodes, list):
        return out
    new_nodes: list[Any] = []
    for index, node in enumerate(nodes):
        if not isinstance(node, Mapping) or node.get("kind") != WORKFLOW_KIND:
            new_nodes.append(node)
            continue
        name = node.get("name")
        label = where.label(name if isinstance(name, str) else f"nodes[{index}]")
        names = (name,) if isinstance(name, str) and not where.prefix else ()
        top = names[0] if names else _top(where, label)
        node = dict(node)
        for_each = node.get("for_each")
        if isinstance(for_each, str):
            items = _read_items(for_each, where.base_dir, label, top, entries)
            if items is not None:
                node["for_each"] = items
        template = node.get("template")
        child: Mapping[str, Any] | None = None
        child_where: _Where | None = None
        if isinstance(template, str):
            source = _source(template, where.base_dir)
            if source is not None and source in where.chain:
                loop = " > ".join([*(_shown(s) for s in where.chain), _shown(source)])
                entries.append(
                    error(
                        "template-recursion",
                        f"node {label!r}: template {template!r} includes itself ({loop})",
                        nodes=_names(top),
                        field="template",
                    )
                )
            else:
                child, child_source, child_base = _load(
                    template, where, lookup, strict, label, top, entries
                )
                if child is not None and child_source is not None:
                    child_where = _Where((*where.chain, child_source), f"{label} > ", child_base)
        elif isinstance(template, Mapping):
            child = template
            child_where = _Where(where.chain, f"{label} > ", where.base_dir)
        if child is not None and child_where is not None:
            most = limits.current().max_workflow_depth
            if depth + 1 > most:
                entries.append(
                    error(
                        "workflow-too-deep",
                        f"node {label!r}: sub-workflows nest more than {most} deep "
                        f"({limits.how_to_raise('max_workflow_depth')})",
                        nodes=_names(top),
                        field="template",
                    )
                )
            else:
                node["template"] = _resolve(child, child_where, lookup, strict, entries, depth + 1)
        new_nodes.append(node)
    out["nodes"] = new_nodes
    return out


def _source(reference: str, base_dir: Path | None) -> str | None:
    """What a template string names, as the chain records it (None: a file with no base)."""
    if not is_file_reference(reference):
        return f"template:{reference}"
    return None if base_dir is None else f"file:{(base_dir / reference).resolve()}"


def _top(where: _Where, label: str) -> str:
    """The top-level node a nested label belongs to (`shots > render` -> `shots`)."""
    return label.split(" > ", 1)[0]


def _names(top: str) -> tuple[str, ...]:
    return (top,) if not top.startswith("nodes[") else ()


def _shown(source: str) -> str:
    kind, _, name = source.partition(":")
    return Path(name).name if kind == "file" else name


def _load(
    reference: str,
    where: _Where,
    lookup: Lookup | None,
    strict: bool,
    label: str,
    top: str,
    entries: list[Entry],
) -> tuple[Mapping[str, Any] | None, str | None, Path | None]:
    """(document, source, its base dir) for a template named by a string."""
    from stormflow.spec.document import read_file

    def fail(message: str) -> tuple[None, None, None]:
        entries.append(
            error(
                "unresolved-template",
                f"node {label!r}: {message}",
                nodes=_names(top),
                field="template",
            )
        )
        return None, None, None

    if is_file_reference(reference):
        if where.base_dir is None:
            return fail(
                f"template {reference!r} is a file: files are read where the document is "
                f"(storm run, storm submit); store it with `storm templates add` to name it "
                f"here"
            )
        path = (where.base_dir / reference).resolve()
        data, problems, _lines = read_file(path)
        if problems:
            return fail(f"template {reference!r}: {problems[0].message}")
        if not isinstance(data, Mapping):
            return fail(f"template {reference!r} is {type_name(data)}, not a document mapping")
        return data, f"file:{path}", path.parent
    if lookup is None:
        if strict:
            return fail(f"template {reference!r} names a stored template, and none can be read")
        return None, None, None
    found = lookup(reference)
    if found is None:
        return fail(f"no stored template named {reference!r} (see storm templates ls)")
    return found, f"template:{reference}", None


def _read_items(
    reference: str, base_dir: Path | None, label: str, top: str, entries: list[Entry]
) -> list[dict[str, Any]] | None:
    """The param sets of a CSV (header row: param names) or JSON (a list of mappings) file."""

    def fail(message: str) -> None:
        entries.append(
            error(
                "bad-for-each",
                f"node {label!r}: for_each {reference!r}: {message}",
                nodes=_names(top),
                field="for_each",
            )
        )

    if base_dir is None:
        fail("files are read where the document is (storm run, storm submit), not on a server")
        return None
    if not reference.lower().endswith(FOR_EACH_SUFFIXES):
        fail("a list of param sets is a .csv or .json file")
        return None
    path = (base_dir / reference).resolve()
    try:
        if path.stat().st_size > MAX_LIST_BYTES:
            fail(f"the file is larger than {MAX_LIST_BYTES:,} bytes")
            return None
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        fail(f"file not found: {path}")
        return None
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {path}: {exc}")
        return None
    if reference.lower().endswith(".csv"):
        return _csv_items(text, fail)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        fail(f"not JSON: {exc}")
        return None
    if not isinstance(data, list) or not all(isinstance(i, Mapping) for i in data):
        fail(f"a JSON list of param sets is a list of mappings, not {type_name(data)}")
        return None
    return [dict(item) for item in data]


def _csv_items(text: str, fail: Callable[[str], None]) -> list[dict[str, Any]] | None:
    rows = list(csv.reader(io.StringIO(text)))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        fail("the file is empty (a header row of param names, then one row per item)")
        return None
    header = [cell.strip() for cell in rows[0]]
    if any(not h for h in header) or len(set(header)) != len(header):
        fail("the header row must name each column once")
        return None
    items: list[dict[str, Any]] = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            fail(f"line {number} has {len(row)} cells, the header {len(header)}")
            return None
        items.append({h: cell.strip() for h, cell in zip(header, row, strict=True)})
    return items


def child_document(config: Mapping[str, Any]) -> dict[str, Any]:
    """The child workflow's document of a planned `workflow` node, from its stored config
    (`{"template": {...}, "params": {...}}`): the template instantiated with the params,
    checked. Raises DocumentError with every entry when it is not valid (a config edited
    after submission can be wrong)."""
    from stormflow.spec.params import instantiate
    from stormflow.spec.validate import validate

    template = config.get("template")
    if not isinstance(template, Mapping):
        message = f"template must be a resolved document, not {type_name(template)}"
        raise DocumentError([error("unresolved-template", message, field="template")])
    values = config.get("params") or {}
    if not isinstance(values, Mapping):
        raise DocumentError([error("bad-param-value", "params must be a mapping", field="params")])
    document = instantiate(template, values)
    entries = validate(document)
    if any(e.severity == "error" for e in entries):
        raise DocumentError(entries)
    return document
