"""A Python builder producing the same data as a YAML/JSON document.

wf = Workflow("shot010_render", metadata={"shot": "sh010"})
sim = wf.task("simulate", [["python", "sim.py"]])
render = wf.task("render", [["render", "{start}", "{end}"]], frames="1-100", chunk_size=10)
sim >> render
plan = wf.expand()
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stormflow.spec.document import Document, parse_document
from stormflow.spec.entries import Entry
from stormflow.spec.expand import Plan, expand
from stormflow.spec.params import instantiate
from stormflow.spec.validate import validate

Command = list[str] | str


@dataclass(frozen=True)
class NodeRef:
    """A handle on a node in a Workflow; `a >> b` adds the edge a -> b and returns b."""

    workflow: Workflow
    name: str

    def __rshift__(self, other: NodeRef | list[NodeRef]) -> NodeRef | list[NodeRef]:
        for target in other if isinstance(other, list) else [other]:
            self.workflow.edge(self, target)
        return other


class Workflow:
    def __init__(
        self,
        name: str,
        metadata: dict[str, Any] | None = None,
        schema: int = 1,
        ttl: float | str | None = None,
    ) -> None:
        self.name = name
        self.metadata = dict(metadata or {})
        self.schema = schema
        self.ttl = ttl  # seconds, or "12h" / "7d": the workflow expires after it
        self._nodes: list[dict[str, Any]] = []
        self._edges: list[Any] = []
        self._params: dict[str, dict[str, Any]] = {}

    def param(
        self,
        name: str,
        type: str = "string",
        default: Any = None,
        description: str | None = None,
        choices: list[str] | None = None,
    ) -> str:
        """Declare a template param (string, int, frames, path or choice); returns its use,
        `${name}`, to put in commands, frames, names..."""
        decl: dict[str, Any] = {"type": type}
        if default is not None:
            decl["default"] = default
        if description:
            decl["description"] = description
        if choices is not None:
            decl["choices"] = list(choices)
        self._params[name] = decl
        return "${" + name + "}"

    def node(self, name: str, kind: str, status: str = "open", **params: Any) -> NodeRef:
        """Add a node of any registered kind; None-valued parameters are left out."""
        node: dict[str, Any] = {"name": name, "kind": kind}
        if status != "open":
            node["status"] = status
        node.update({k: v for k, v in params.items() if v is not None})
        self._nodes.append(node)
        return NodeRef(self, name)

    def task(
        self,
        name: str,
        commands: list[Command],
        *,
        status: str = "open",
        frames: str | int | None = None,
        chunk_size: int | None = None,
        scout: str | int | list[int] | None = None,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        instance_type: str | None = None,
        retries: int | None = None,
        retry_delay: float | None = None,
        min_seconds: float | None = None,
        max_seconds: float | None = None,
        output: str | None = None,
        limits: list[str] | None = None,
    ) -> NodeRef:
        return self.node(
            name,
            "task",
            status,
            commands=commands,
            env=env,
            cwd=cwd,
            instance_type=instance_type,
            retries=retries,
            retry_delay=retry_delay,
            min_seconds=min_seconds,
            max_seconds=max_seconds,
            output=output,
            limits=limits,
            frames=frames,
            chunk_size=chunk_size,
            scout=scout,
        )

    def email(
        self,
        name: str,
        addresses: list[str],
        *,
        subject: str | None = None,
        body: str | None = None,
        status: str = "open",
        retries: int | None = None,
        retry_delay: float | None = None,
    ) -> NodeRef:
        return self.node(
            name,
            "email",
            status,
            addresses=addresses,
            subject=subject,
            body=body,
            retries=retries,
            retry_delay=retry_delay,
        )

    def workflow(
        self,
        name: str,
        template: str | dict[str, Any] | Workflow,
        *,
        params: dict[str, Any] | None = None,
        for_each: list[dict[str, Any]] | str | None = None,
        key: str | None = None,
        status: str = "open",
        retries: int | None = None,
        retry_delay: float | None = None,
    ) -> NodeRef:
        """A sub-workflow: `template` is a stored template's name, a file path (relative to
        the document: see spec.templates.resolve) or a document (dict or Workflow);
        `for_each` a list of param sets making one node per item, `<name>.<item[key]>`."""
        return self.node(
            name,
            "workflow",
            status,
            template=template.to_dict() if isinstance(template, Workflow) else template,
            params=params,
            for_each=for_each,
            key=key,
            retries=retries,
            retry_delay=retry_delay,
        )

    def webhook(
        self,
        name: str,
        url: str,
        *,
        format: str | None = None,
        text: str | None = None,
        secret_env: str | None = None,
        timeout: float | None = None,
        tries: int | None = None,
        status: str = "open",
        retries: int | None = None,
        retry_delay: float | None = None,
    ) -> NodeRef:
        """A signed JSON notice (format "json") or a Slack message ("slack") POSTed to url;
        secret_env names the variable holding the signing secret, never the secret."""
        return self.node(
            name,
            "webhook",
            status,
            url=url,
            format=format,
            text=text,
            secret_env=secret_env,
            timeout=timeout,
            tries=tries,
            retries=retries,
            retry_delay=retry_delay,
        )

    def external(
        self,
        name: str,
        provider: str,
        request: dict[str, Any],
        *,
        outputs: dict[str, str] | None = None,
        status: str = "open",
        retries: int | None = None,
        retry_delay: float | None = None,
    ) -> NodeRef:
        """A job handed to a configured provider and waited for without a slot."""
        return self.node(
            name,
            "external",
            status,
            provider=provider,
            request=request,
            outputs=outputs,
            retries=retries,
            retry_delay=retry_delay,
        )

    def edge(
        self, upstream: NodeRef | str, downstream: NodeRef | str, mode: str | None = None
    ) -> None:
        up = upstream.name if isinstance(upstream, NodeRef) else upstream
        down = downstream.name if isinstance(downstream, NodeRef) else downstream
        self._edges.append([up, down] if mode is None else {"from": up, "to": down, "mode": mode})

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"schema": self.schema, "name": self.name}
        if self.metadata:
            data["metadata"] = dict(self.metadata)
        if self.ttl is not None:
            data["ttl"] = self.ttl
        if self._params:
            data["params"] = {k: dict(v) for k, v in self._params.items()}
        data["nodes"] = [dict(n) for n in self._nodes]
        data["edges"] = [list(e) if isinstance(e, list) else dict(e) for e in self._edges]
        return data

    def validate(self, values: Mapping[str, object] | None = None) -> list[Entry]:
        """Entries; a template with `values` is checked as the instance they make."""
        return validate(self.to_dict(), values)

    def instantiate(self, values: Mapping[str, object] | None = None) -> dict[str, Any]:
        """The document with its params filled (DocumentError naming a missing or ill-typed
        one)."""
        return instantiate(self.to_dict(), values)

    def document(self, values: Mapping[str, object] | None = None) -> Document:
        """The checked Document (a template: instantiated with values, else its defaults);
        raises DocumentError listing every problem."""
        return parse_document(self.instantiate(values))

    def expand(self, values: Mapping[str, object] | None = None) -> Plan:
        return expand(self.document(values))
