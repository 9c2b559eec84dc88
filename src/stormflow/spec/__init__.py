"""The workflow document layer: parse, validate (with fixers), expand into a Plan."""

from __future__ import annotations

from stormflow.spec import rules as _rules  # noqa: F401  (registers the built-in rules)
from stormflow.spec.builder import NodeRef, Workflow
from stormflow.spec.document import (
    Document,
    EdgeSpec,
    NodeSpec,
    check_document,
    dump_document,
    load_document,
    parse_document,
    parse_ttl,
    read_file,
    read_text,
    to_json,
    to_yaml,
)
from stormflow.spec.entries import DocumentError, Entry, Fixer, Severity
from stormflow.spec.expand import Plan, PlannedNode, expand
from stormflow.spec.frames import FrameRange, FrameSpecError, parse_frames
from stormflow.spec.kinds import NodeKind, Param, get_kind, register_kind
from stormflow.spec.natural import natural_key, natural_sorted
from stormflow.spec.tokens import render_commands, render_text
from stormflow.spec.validate import RuleContext, register_rule, unregister_rule, validate

__all__ = [
    "Document",
    "DocumentError",
    "EdgeSpec",
    "Entry",
    "Fixer",
    "FrameRange",
    "FrameSpecError",
    "NodeKind",
    "NodeRef",
    "NodeSpec",
    "Param",
    "Plan",
    "PlannedNode",
    "RuleContext",
    "Severity",
    "Workflow",
    "check_document",
    "dump_document",
    "expand",
    "get_kind",
    "load_document",
    "natural_key",
    "natural_sorted",
    "parse_document",
    "parse_frames",
    "parse_ttl",
    "read_file",
    "read_text",
    "register_kind",
    "register_rule",
    "render_commands",
    "render_text",
    "to_json",
    "to_yaml",
    "unregister_rule",
    "validate",
]
