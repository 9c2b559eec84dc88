"""Template parameters: a document's `params` declaration and `${param}` substitution.

A document may declare top-level `params` (name -> {type, default, description, choices})
and use `${name}` in any string; `instantiate` checks the values given against the
declaration and returns the document with every use replaced and the declaration removed.

Runtime tokens (`${workflow-id}`, `${workflow-name}`, `${node-name}`, `${status}`) and frame
tokens (`{start}`...) are filled later by the engine, so they may not be param names; any
other `${...}` that names no param (a shell's `${HOME}`) is left as written.

A `workflow` node's inline `template` is a document of its own, with its own params: the
parent's substitution does not enter it (the node passes values through its `params`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from stormflow.spec.entries import DocumentError, Entry, error
from stormflow.spec.frames import FrameSpecError, parse_frames, type_name
from stormflow.spec.tokens import TEXT_TOKENS

PARAM_TYPES = ("string", "int", "frames", "path", "choice")
PARAM_KEYS = ("type", "default", "description", "choices")
PARAM_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_USE = re.compile(r"\$\{([A-Za-z][A-Za-z0-9_-]*)\}")
#: How many places a message lists where a param is used.
_SHOWN_USES = 3


@dataclass(frozen=True)
class ParamSpec:
    """One declared parameter."""

    name: str
    type: str = "string"
    default: Any = None
    description: str = ""
    choices: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        return self.default is None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.default is not None:
            out["default"] = self.default
        if self.description:
            out["description"] = self.description
        if self.choices:
            out["choices"] = list(self.choices)
        return out


def is_template(data: object) -> bool:
    """Whether the data declares params (and so must be instantiated before it runs)."""
    return isinstance(data, Mapping) and "params" in data


def declarations(data: Mapping[str, Any]) -> tuple[dict[str, ParamSpec], list[Entry]]:
    """The declared params, and an entry for each ill-formed declaration."""
    raw = data.get("params")
    if raw is None:
        return {}, []
    if not isinstance(raw, Mapping):
        message = f"'params' must be a mapping of name to declaration, not {type_name(raw)}"
        return {}, [error("bad-params", message, field="params")]
    specs: dict[str, ParamSpec] = {}
    entries: list[Entry] = []
    for name, decl in raw.items():
        where = f"params.{name}"
        if not isinstance(name, str) or not PARAM_NAME.match(name):
            entries.append(
                error(
                    "bad-param-name",
                    f"param name {name!r} must start with a letter and hold up to 64 "
                    f"letters, digits, '_' or '-'",
                    field=where,
                )
            )
            continue
        if name in TEXT_TOKENS:
            entries.append(
                error(
                    "reserved-param",
                    f"param {name!r} is a runtime token (${{{name}}} is filled when the node "
                    f"runs); choose another name",
                    field=where,
                )
            )
            continue
        spec, problems = _declaration(name, {} if decl is None else decl)
        entries.extend(error("bad-param", p, field=where) for p in problems)
        if spec is not None and not problems:
            specs[name] = spec
    return specs, entries


def _declaration(name: str, decl: object) -> tuple[ParamSpec | None, list[str]]:
    if isinstance(decl, str):  # shorthand: `shot: string`
        decl = {"type": decl}
    if not isinstance(decl, Mapping):
        return None, [f"param {name!r} must be a mapping (type, default, description, choices)"]
    problems = [
        f"param {name!r} has unknown field {key!r} (fields: {', '.join(PARAM_KEYS)})"
        for key in decl
        if key not in PARAM_KEYS
    ]
    kind = decl.get("type", "string")
    if kind not in PARAM_TYPES:
        problems.append(f"param {name!r} has type {kind!r}; types are {', '.join(PARAM_TYPES)}")
        return None, problems
    choices: tuple[str, ...] = ()
    raw_choices = decl.get("choices")
    if kind == "choice":
        if (
            not isinstance(raw_choices, list)
            or not raw_choices
            or not all(isinstance(c, str) for c in raw_choices)
        ):
            problems.append(f"param {name!r} (choice) needs 'choices': a list of strings")
        else:
            choices = tuple(raw_choices)
    elif raw_choices is not None:
        problems.append(f"param {name!r}: 'choices' applies to type choice only")
    description = decl.get("description", "")
    if not isinstance(description, str):
        problems.append(f"param {name!r}: description must be a string")
        description = ""
    spec = ParamSpec(name, kind, None, description, choices)
    default = decl.get("default")
    if default is not None:
        value, problem = coerce(spec, default)
        if problem:
            problems.append(f"param {name!r}: default {problem}")
        spec = ParamSpec(name, kind, value, description, choices)
    return spec, problems


def coerce(spec: ParamSpec, value: object) -> tuple[Any, str | None]:
    """The value as its param's type (text from `--set` or a CSV becomes an int or a frame
    spec), or a message saying what is wrong with it."""
    if spec.type == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value, None
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
            return int(value), None
        return None, f"must be a whole number, got {type_name(value)} {_short(value)}"
    if isinstance(value, int) and not isinstance(value, bool) and spec.type != "choice":
        value = str(value)
    if not isinstance(value, str):
        return None, f"must be a {_described(spec)}, got {type_name(value)} {_short(value)}"
    if spec.type == "frames":
        try:
            return parse_frames(value).spec, None
        except FrameSpecError as exc:
            return None, f"must be a frame spec: {exc}"
    if spec.type == "path" and not value.strip():
        return None, "must be a path, got an empty string"
    if spec.type == "choice" and value not in spec.choices:
        return None, f"must be one of {', '.join(spec.choices)}, got {value!r}"
    return value, None


def _described(spec: ParamSpec) -> str:
    return {"frames": "frame spec string", "path": "path (a string)"}.get(spec.type, spec.type)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _strings(value: object, path: str) -> Iterator[tuple[str, str]]:
    """(path, text) of every string in the document outside `params` and inline child
    templates (iterative: documents are checked for depth elsewhere)."""
    stack: list[tuple[object, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            yield where, item
        elif isinstance(item, Mapping):
            for key, child in item.items():
                if where == "" and key == "params":
                    continue
                if key == "template" and isinstance(child, Mapping) and _in_node(where):
                    continue
                stack.append((child, f"{where}.{key}" if where else str(key)))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{i}]") for i, child in enumerate(item))


def _in_node(path: str) -> bool:
    return re.fullmatch(r"nodes\[\d+\]", path) is not None


def uses(data: Mapping[str, Any]) -> dict[str, list[str]]:
    """Where each `${name}` is used: name -> paths (nodes[2].commands[0]...)."""
    out: dict[str, list[str]] = {}
    for path, text in _strings(data, ""):
        for name in _USE.findall(text):
            out.setdefault(name, []).append(path)
    for paths in out.values():
        paths.reverse()  # the stack walks backwards; messages read better in order
    return out


def _where(name: str, used: Mapping[str, list[str]]) -> str:
    paths = used.get(name, [])
    if not paths:
        return " (not used in the document)"
    shown = ", ".join(paths[:_SHOWN_USES])
    more = f" and {len(paths) - _SHOWN_USES} more" if len(paths) > _SHOWN_USES else ""
    return f" (used in {shown}{more})"


def check_values(
    data: Mapping[str, Any], values: Mapping[str, object], *, samples: bool = False
) -> tuple[dict[str, Any], list[Entry]]:
    """The value of every declared param (given, else default; with `samples`, a stand-in
    for a missing one so a template can be checked before it has values), and an entry
    per declaration problem, missing, unknown or ill-typed value."""
    specs, entries = declarations(data)
    if entries:
        return {}, entries
    used = uses(data)
    resolved: dict[str, Any] = {}
    for name, value in values.items():
        spec = specs.get(name)
        if spec is None:
            known = ", ".join(specs) or "none"
            entries.append(
                error(
                    "unknown-param-value",
                    f"no param named {name!r} is declared (params: {known})",
                    field=f"params.{name}",
                )
            )
            continue
        coerced, problem = coerce(spec, value)
        if problem:
            entries.append(
                error(
                    "bad-param-value",
                    f"param {name!r} {problem}{_where(name, used)}",
                    field=f"params.{name}",
                )
            )
        else:
            resolved[name] = coerced
    for name, spec in specs.items():
        if name in resolved or name in values:
            continue
        if spec.default is not None:
            resolved[name] = spec.default
        elif samples:
            resolved[name] = sample(spec)
        else:
            hint = f": {spec.description}" if spec.description else ""
            entries.append(
                error(
                    "missing-param-value",
                    f"param {name!r} ({spec.type}) has no value and no default{hint}"
                    f"{_where(name, used)}; give it a value (--set {name}=... on the command line)",
                    field=f"params.{name}",
                )
            )
    return resolved, entries


def sample(spec: ParamSpec) -> Any:
    """A stand-in value of the param's type, for checking a template without values."""
    return {"int": 1, "frames": "1", "choice": spec.choices[0] if spec.choices else ""}.get(
        spec.type, spec.name
    )


def substitute(data: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the document with `${name}` replaced for every name in values and the
    `params` declaration removed. A node's parameter that is exactly one use takes the value
    itself (so `chunk_size: ${chunk}` is a number); everywhere else a use becomes text (an
    argv item, an env value). Inline child templates are left alone."""

    def text(value: str, typed: bool) -> Any:
        whole = _USE.fullmatch(value) if typed else None
        if whole and whole.group(1) in values:
            return values[whole.group(1)]
        return _USE.sub(
            lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), value
        )

    def walk(item: Any, where: str, typed: bool = False) -> Any:
        if isinstance(item, str):
            return text(item, typed) if "${" in item else item
        if isinstance(item, Mapping):
            out = {}
            for key, child in item.items():
                if where == "" and key == "params":
                    continue
                inner = f"{where}.{key}" if where else str(key)
                if key == "template" and isinstance(child, Mapping) and _in_node(where):
                    out[key] = _copy(child)
                else:
                    out[key] = walk(child, inner, _in_node(where))
            return out
        if isinstance(item, list):
            return [walk(child, f"{where}[{i}]") for i, child in enumerate(item)]
        return item

    result: dict[str, Any] = walk(data, "")
    return result


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def instantiate_checked(
    document: Mapping[str, Any], values: Mapping[str, object] | None = None
) -> tuple[dict[str, Any] | None, list[Entry]]:
    """(the instance, []) or (None, entries naming each missing or ill-typed param)."""
    if not isinstance(document, Mapping):
        return None, [error("not-a-mapping", "a template must be a mapping")]
    if not is_template(document):
        if values:
            name = next(iter(values))
            message = f"the document declares no params, so {name!r} cannot be set"
            return None, [error("unknown-param-value", message, field=f"params.{name}")]
        return _copy(document), []
    resolved, entries = check_values(document, values or {})
    if entries:
        return None, entries
    return substitute(document, resolved), []


def instantiate(
    document: Mapping[str, Any], values: Mapping[str, object] | None = None
) -> dict[str, Any]:
    """The document with its params filled from values (and defaults): raises DocumentError
    naming each missing or ill-typed param and where it is used. A document without a
    `params` declaration comes back as a copy (and takes no values)."""
    instance, entries = instantiate_checked(document, values)
    if instance is None:
        raise DocumentError(entries)
    return instance


def parse_assignments(items: list[str] | None) -> dict[str, str]:
    """`--set name=value` options as a mapping; ValueError naming a malformed one."""
    out: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--set {item!r} must be NAME=VALUE")
        out[name.strip()] = value
    return out
