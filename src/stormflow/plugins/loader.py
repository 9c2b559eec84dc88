"""Loading plugins from entry points, their health, and the guards that isolate them.

Every callable a plugin hands Storm (rules, fixers, payload and command rendering, actions,
provider calls) is wrapped once at load time. The first exception escaping one of them marks
the plugin failed with the error and where it happened, and disables it: its rules stop
running, its fixers change nothing, and its kinds' attempts fail with one line naming the
plugin, while the server, the scheduler and the executors go on. A restart loads it afresh.

A plugin that raises while loading, declares an `api_version` this Storm does not support,
or adds a kind or integration whose name is taken adds nothing at all (all or nothing).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from stormflow.kinds.base import ActionContext, ActionError, Command, Kind, Rule
from stormflow.kinds.registry import get_kind, register_kind, unregister_kind
from stormflow.plugins.api import (
    API_VERSION,
    SUPPORTED_API_VERSIONS,
    DccIntegration,
    ExternalStatus,
    JobProvider,
    Plugin,
    ProviderContext,
)
from stormflow.spec.entries import Entry, Fixer, RawDocument, error
from stormflow.spec.validate import RuleContext, register_rule, unregister_rule

GROUP = "stormflow.plugins"
#: Name of the built-in "plugin": the kinds and integrations Storm ships.
BUILTIN = "storm"
#: The built-in kinds listed as notifications on the plugins page.
NOTIFICATION_KINDS = ("email", "webhook")

Status = Literal["loaded", "failed"]


class PluginError(ActionError):
    """A plugin failed (now or earlier) while Storm called it; the message is one line."""


@dataclass
class PluginState:
    """One plugin as the plugins page shows it."""

    name: str
    entry_point: str
    distribution: str | None = None
    version: str | None = None
    api_version: int | None = None
    description: str = ""
    status: Status = "loaded"
    #: Where it failed ("load", "rule ffmpeg_fps", "action notify_chat"...) and the error.
    failed_in: str | None = None
    error: str | None = None
    builtin: bool = False
    kinds: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    providers: list[str] = field(default_factory=list)
    notifications: list[str] = field(default_factory=list)
    integrations: list[str] = field(default_factory=list)
    about: dict[str, str] = field(default_factory=dict)
    #: The guarded document-wide rules registered for it (to remove them again).
    registered_rules: list[Rule] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == "loaded"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "entry_point": self.entry_point,
            "distribution": self.distribution,
            "version": self.version,
            "api_version": self.api_version,
            "description": self.description,
            "status": self.status,
            "failed_in": self.failed_in,
            "error": self.error,
            "builtin": self.builtin,
            "adds": {
                "kinds": list(self.kinds),
                "rules": list(self.rules),
                "providers": list(self.providers),
                "notifications": list(self.notifications),
                "integrations": list(self.integrations),
            },
            "about": dict(self.about),
        }


_lock = threading.RLock()
_STATES: dict[str, PluginState] = {}
_PROVIDERS: dict[str, JobProvider] = {}
_INTEGRATIONS: dict[str, tuple[str, DccIntegration]] = {}
_loaded = False


# -- health ---------------------------------------------------------------------------------------


def _describe(exc: BaseException) -> str:
    """One line: the exception and the innermost frame it came from."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        text += f" (at {os.path.basename(last.filename)}:{last.lineno} in {last.name})"
    return text.replace("\n", " ")


def _disable(state: PluginState, where: str, exc: BaseException) -> None:
    with _lock:
        if state.status == "failed":
            return  # the first failure is the one worth reading
        state.status = "failed"
        state.failed_in = where
        state.error = _describe(exc)


def _disabled_message(state: PluginState) -> str:
    return f"plugin {state.name} is disabled: it failed in {state.failed_in}: {state.error}"


# -- guards ---------------------------------------------------------------------------------------


def _name(fn: object) -> str:
    return str(getattr(fn, "__name__", None) or type(fn).__name__)


def _guard_fixer(state: PluginState, fixer: Fixer) -> Fixer:
    def edit(document: RawDocument) -> None:
        if not state.ok:
            return  # a disabled plugin's fixer changes nothing
        trial = copy.deepcopy(document)
        try:
            fixer.edit(trial)
        except Exception as exc:
            _disable(state, f"fixer {fixer.name}", exc)
            return  # the document is left as it was: the edit ran on a copy
        document.clear()
        document.update(trial)

    return dataclasses.replace(fixer, edit=edit)


def _guard_rule(state: PluginState, rule: Rule) -> Callable[[RuleContext], Iterator[Entry]]:
    name = _name(rule)

    def guarded(ctx: RuleContext) -> Iterator[Entry]:
        if not state.ok:
            return
        try:
            found = list(rule(ctx))
            bad = next((e for e in found if not isinstance(e, Entry)), None)
            if bad is not None:
                raise TypeError(f"rule {name} yielded {type(bad).__name__}, not an Entry")
        except Exception as exc:
            _disable(state, f"rule {name}", exc)
            yield error(
                "plugin-failed",
                f"plugin {state.name}: validation rule {name} failed ({_describe(exc)}); "
                "the plugin is disabled until Storm restarts",
            )
            return
        for entry in found:
            fixers = tuple(_guard_fixer(state, f) for f in entry.fixers)
            yield dataclasses.replace(entry, fixers=fixers)

    guarded.__name__ = name
    guarded.__qualname__ = f"{state.name}.{getattr(rule, '__qualname__', name)}"
    guarded.__module__ = f"stormflow.plugins.{state.name}"
    return guarded


def _check_plugin(state: PluginState) -> None:
    if not state.ok:
        raise PluginError(_disabled_message(state))


def _guard_render(
    state: PluginState, kind: str, fn: Callable[[Mapping[str, Any], Mapping[str, str]], Any]
) -> Callable[[Mapping[str, Any], Mapping[str, str]], Any]:
    what = f"{_name(fn)} (rendering {kind})"

    def guarded(config: Mapping[str, Any], tokens: Mapping[str, str]) -> Any:
        _check_plugin(state)
        try:
            return fn(config, tokens)
        except Exception as exc:
            _disable(state, what, exc)
            raise PluginError(f"plugin {state.name}: {what} failed: {_describe(exc)}") from exc

    return guarded


def _guard_payload(
    state: PluginState,
    kind: str,
    fn: Callable[[Mapping[str, Any], Mapping[str, str]], Mapping[str, Any]],
) -> Callable[[Mapping[str, Any], Mapping[str, str]], Mapping[str, Any]]:
    render = _guard_render(state, kind, fn)

    def guarded(config: Mapping[str, Any], tokens: Mapping[str, str]) -> Mapping[str, Any]:
        found = render(config, tokens)
        try:  # the payload travels with the job (to Celery workers too): JSON or nothing
            if not isinstance(found, Mapping):
                raise TypeError(f"{_name(fn)} returned {type(found).__name__}, not a mapping")
            json.dumps(found)
        except (TypeError, ValueError) as exc:
            _disable(state, f"{_name(fn)} (rendering {kind})", exc)
            raise PluginError(f"plugin {state.name}: {_describe(exc)}") from None
        return found

    return guarded


def _guard_commands(
    state: PluginState,
    kind: str,
    fn: Callable[[Mapping[str, Any], Mapping[str, str]], list[Command]],
) -> Callable[[Mapping[str, Any], Mapping[str, str]], list[Command]]:
    render = _guard_render(state, kind, fn)

    def guarded(config: Mapping[str, Any], tokens: Mapping[str, str]) -> list[Command]:
        found = render(config, tokens)
        ok = isinstance(found, list) and all(
            isinstance(c, str)
            or (isinstance(c, list | tuple) and all(isinstance(a, str) for a in c))
            for c in found
        )
        if not ok:
            exc = TypeError(f"{_name(fn)} returned {found!r:.80}, not a list of commands")
            _disable(state, f"{_name(fn)} (rendering {kind})", exc)
            raise PluginError(f"plugin {state.name}: {exc}")
        return [c if isinstance(c, str) else list(c) for c in found]

    return guarded


def _guard_action(
    state: PluginState, kind: str, fn: Callable[[Mapping[str, Any], ActionContext], str]
) -> Callable[[Mapping[str, Any], ActionContext], str]:
    what = f"action {_name(fn)} ({kind})"

    def guarded(payload: Mapping[str, Any], ctx: ActionContext) -> str:
        _check_plugin(state)
        try:
            return str(fn(payload, ctx))
        except ActionError:
            raise  # the action's own, ordinary failure (a refused send): not a plugin bug
        except Exception as exc:
            _disable(state, what, exc)
            raise PluginError(f"plugin {state.name}: {what} failed: {_describe(exc)}") from exc

    return guarded


def _guard_kind(state: PluginState, kind: Kind) -> Kind:
    return dataclasses.replace(
        kind,
        provider=state.name,
        rules=tuple(_guard_rule(state, r) for r in kind.rules),
        payload=_guard_payload(state, kind.name, kind.payload) if kind.payload else None,
        commands=_guard_commands(state, kind.name, kind.commands) if kind.commands else None,
        action=_guard_action(state, kind.name, kind.action) if kind.action else None,
    )


class GuardedProvider:
    """A plugin's external-job provider behind the same guard as its other callables."""

    def __init__(self, state: PluginState, provider: JobProvider) -> None:
        self.state = state
        self.provider = provider
        self.name = str(provider.name)
        self.description = str(getattr(provider, "description", ""))

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        _check_plugin(self.state)
        try:
            return fn()
        except Exception as exc:
            where = f"provider {self.name}.{what}"
            _disable(self.state, where, exc)
            raise PluginError(
                f"plugin {self.state.name}: {where} failed: {_describe(exc)}"
            ) from exc

    def submit(self, payload: Mapping[str, Any], ctx: ProviderContext) -> str:
        return str(self._call("submit", lambda: self.provider.submit(payload, ctx)))

    def poll(self, job_id: str) -> ExternalStatus:
        found = self._call("poll", lambda: self.provider.poll(job_id))
        if not isinstance(found, ExternalStatus):
            exc = TypeError(f"poll returned {type(found).__name__}, not an ExternalStatus")
            _disable(self.state, f"provider {self.name}.poll", exc)
            raise PluginError(f"plugin {self.state.name}: {exc}")
        return found

    def cancel(self, job_id: str) -> None:
        self._call("cancel", lambda: self.provider.cancel(job_id))


# -- loading --------------------------------------------------------------------------------------


def _refuse(state: PluginState, reason: str) -> PluginState:
    state.status = "failed"
    state.failed_in = "load"
    state.error = reason
    return state


def _check_declaration(plugin: Plugin, state: PluginState) -> str | None:
    """Why this plugin cannot be added as declared, or None."""
    if plugin.api_version not in SUPPORTED_API_VERSIONS:
        supported = ", ".join(str(v) for v in sorted(SUPPORTED_API_VERSIONS))
        return (
            f"written for plugin API version {plugin.api_version!r}; this Storm supports "
            f"version {supported} (update the plugin or Storm)"
        )
    for kind in (*plugin.kinds, *plugin.notifications):
        if not isinstance(kind, Kind):
            return f"kinds must be stormflow.kinds.Kind values, got {type(kind).__name__}"
        taken = get_kind(kind.name)
        if taken is not None:
            return f"kind {kind.name!r} is already provided by {taken.provider}"
        if kind.runs == "commands" and kind.commands is None and "commands" not in kind.params:
            return f"kind {kind.name!r} runs commands but has neither `commands` nor the param"
        if kind.runs == "action" and kind.action is None:
            return f"kind {kind.name!r} runs an action but declares no `action`"
    for kind in plugin.notifications:
        if kind.runs != "action":
            return f"notification kind {kind.name!r} must run an action, not {kind.runs!r}"
    names = [k.name for k in (*plugin.kinds, *plugin.notifications)]
    if len(set(names)) != len(names):
        return "the plugin declares a kind twice"
    for rule in plugin.rules:
        if not callable(rule):
            return f"rules must be functions, got {type(rule).__name__}"
    for provider in plugin.providers:
        if not isinstance(provider, JobProvider):
            return f"provider {provider!r:.60} lacks name, description, submit, poll or cancel"
        if provider.name in _PROVIDERS:
            return f"external-job provider {provider.name!r} is already provided"
    for integration in plugin.integrations:
        if not isinstance(integration, DccIntegration):
            return f"integrations must be DccIntegration values, got {type(integration).__name__}"
        if integration.name in _INTEGRATIONS:
            owner = _INTEGRATIONS[integration.name][0]
            return f"integration {integration.name!r} is already provided by {owner}"
    return None


def add_plugin(
    plugin: object, entry_point: str, dist: tuple[str, str] | None = None
) -> PluginState:
    """Check and register one plugin (already loaded from its entry point); its health."""
    with _lock:
        state = PluginState(name=entry_point, entry_point=entry_point)
        if dist is not None:
            state.distribution, state.version = dist
        if not isinstance(plugin, Plugin):
            return _record(
                _refuse(
                    state,
                    f"the entry point gives {type(plugin).__name__}, not a "
                    "stormflow.plugins.Plugin (or a function returning one)",
                )
            )
        state.name = plugin.name
        state.version = plugin.version
        state.api_version = plugin.api_version
        state.description = plugin.description
        state.about = {str(k): str(v) for k, v in plugin.about.items()}
        if plugin.name in _STATES or plugin.name == BUILTIN:
            state.name = f"{plugin.name} ({entry_point})"
            return _record(_refuse(state, f"another plugin is already named {plugin.name!r}"))
        refused = _check_declaration(plugin, state)
        if refused is not None:
            return _record(_refuse(state, refused))
        # All checks passed: register everything (nothing below calls plugin code).
        for kind in plugin.kinds:
            register_kind(_guard_kind(state, kind))
            state.kinds.append(kind.name)
        for kind in plugin.notifications:
            register_kind(_guard_kind(state, kind))
            state.notifications.append(kind.name)
        for rule in plugin.rules:
            state.registered_rules.append(register_rule(_guard_rule(state, rule)))
            state.rules.append(_name(rule))
        for kind in (*plugin.kinds, *plugin.notifications):
            state.rules.extend(f"{kind.name}: {_name(r)}" for r in kind.rules)
        for provider in plugin.providers:
            _PROVIDERS[provider.name] = GuardedProvider(state, provider)
            state.providers.append(provider.name)
        for integration in plugin.integrations:
            _INTEGRATIONS[integration.name] = (state.name, integration)
            state.integrations.append(integration.name)
        return _record(state)


def _record(state: PluginState) -> PluginState:
    _STATES[state.name] = state
    return state


def _load_entry_point(entry_point: metadata.EntryPoint) -> PluginState:
    label = f"{entry_point.name} = {entry_point.value}"
    dist = getattr(entry_point, "dist", None)
    version = (dist.name, dist.version) if dist is not None else None
    try:
        found = entry_point.load()
        if callable(found) and not isinstance(found, Plugin):
            found = found()
    except BaseException as exc:  # SystemExit or KeyboardInterrupt at import: still its fault
        if isinstance(exc, KeyboardInterrupt):
            raise
        state = PluginState(name=entry_point.name, entry_point=label)
        if version is not None:
            state.distribution, state.version = version
        with _lock:
            return _record(_refuse(state, _describe(exc)))
    return add_plugin(found, label, version)


def load_plugins(entry_points: Iterable[metadata.EntryPoint] | None = None) -> list[PluginState]:
    """Load the installed plugins once (`STORM_PLUGINS=off` skips them); their health.

    `entry_points` loads those instead of the installed ones (tests), every time.
    """
    global _loaded
    if entry_points is not None:
        get_kind("task")  # the registry loaded first, outside our lock (it calls us)
    with _lock:
        if entry_points is None:
            if _loaded:
                return plugins()
            _loaded = True
            _builtin()
            if os.environ.get("STORM_PLUGINS", "").strip().lower() in {"off", "0", "no", "false"}:
                return plugins()
            entry_points = metadata.entry_points(group=GROUP)
        else:
            _builtin()
        for entry_point in sorted(entry_points, key=lambda e: e.name):
            _load_entry_point(entry_point)
        return plugins()


def _builtin() -> None:
    if BUILTIN in _STATES:
        return
    from stormflow.plugins.builtin import builtin_integrations

    state = PluginState(
        name=BUILTIN,
        entry_point="built in",
        distribution="stormflow",
        api_version=API_VERSION,
        description="the kinds and DCC integrations Storm ships",
        builtin=True,
    )
    from stormflow import __version__

    state.version = __version__
    for integration in builtin_integrations():
        _INTEGRATIONS[integration.name] = (BUILTIN, integration)
        state.integrations.append(integration.name)
    _STATES[BUILTIN] = state


def _builtin_kinds() -> list[Kind]:
    from stormflow.kinds.registry import all_kinds

    return [k for k in all_kinds() if k.provider == BUILTIN]


def plugins() -> list[PluginState]:
    """Every plugin's health, the built-in one first."""
    with _lock:
        builtin = _STATES.get(BUILTIN)
        if builtin is not None:
            # Read now, not at load: a built-in kind's module may still have been importing
            # when the registry loaded (its own register_kind is what triggered the load).
            kinds = _builtin_kinds()
            # Not every action kind notifies: `upload` runs as an action and moves files.
            notifies = [k for k in kinds if k.runs == "action" and k.name in NOTIFICATION_KINDS]
            builtin.kinds = [k.name for k in kinds if k not in notifies]
            builtin.notifications = [k.name for k in notifies]
            builtin.rules = [f"{k.name}: {_name(r)}" for k in kinds for r in k.rules]
        return sorted(_STATES.values(), key=lambda s: (not s.builtin, s.name))


def failures() -> dict[str, dict[str, str | None]]:
    """The plugins that failed in this process: {name: {"failed_in", "error"}}; a scheduler
    child reports them to its server with its figures (engine/handover.py)."""
    with _lock:
        return {
            s.name: {"failed_in": s.failed_in, "error": s.error}
            for s in _STATES.values()
            if not s.ok
        }


def plugin(name: str) -> PluginState | None:
    with _lock:
        return _STATES.get(name)


def register_provider(found: JobProvider) -> JobProvider:
    """Add one of Storm's own external-job providers (plugins declare theirs in `Plugin`).

    Built-in providers are Storm's code: not guarded, listed under the plugin `storm`.
    """
    if not isinstance(found, JobProvider):
        raise TypeError(f"{found!r:.60} lacks name, description, submit, poll or cancel")
    with _lock:
        _builtin()
        owner = _STATES[BUILTIN]
        if found.name in _PROVIDERS and found.name not in owner.providers:
            raise ValueError(f"external-job provider {found.name!r} is already provided")
        _PROVIDERS[found.name] = found
        if found.name not in owner.providers:
            owner.providers.append(found.name)
    return found


def provider(name: str) -> GuardedProvider | JobProvider | None:
    """The external-job provider of that name (a plugin's, guarded)."""
    with _lock:
        return _PROVIDERS.get(name)


def provider_names() -> list[str]:
    with _lock:
        return sorted(_PROVIDERS)


def integrations() -> list[tuple[str, DccIntegration]]:
    """(plugin name, integration) for every DCC integration, by title."""
    with _lock:
        return sorted(_INTEGRATIONS.values(), key=lambda item: item[1].title.lower())


def integration(name: str) -> tuple[str, DccIntegration] | None:
    with _lock:
        return _INTEGRATIONS.get(name)


def forget(name: str) -> None:
    """Remove a plugin and everything it added (tests; a server loads plugins once)."""
    with _lock:
        state = _STATES.pop(name, None)
        if state is None or state.builtin:
            return
        for kind in (*state.kinds, *state.notifications):
            unregister_kind(kind)
        for rule in state.registered_rules:
            unregister_rule(rule)
        for key in state.providers:
            _PROVIDERS.pop(key, None)
        for key in state.integrations:
            _INTEGRATIONS.pop(key, None)


@register_rule
def disabled_plugin_kinds(ctx: RuleContext) -> Iterator[Entry]:
    """A node whose kind comes from a failed plugin cannot run: say so, naming the error."""
    for node in ctx.nodes:
        if node.kind is None or node.kind.provider == BUILTIN:
            continue
        state = plugin(node.kind.provider)
        if state is not None and not state.ok:
            yield error(
                "plugin-disabled",
                f"node {node.label!r}: kind {node.kind.name!r} is unavailable: "
                + _disabled_message(state),
                nodes=node.names,
                field="kind",
            )


def download_file(name: str) -> Path | str | None:
    """What integration `name` offers for download: a local file, a URL, or None (nothing).

    A function download is called here (it may build the file); when it raises or returns
    something else than a file, its plugin is reported failed and PluginError raised.
    """
    found = integration(name)
    if found is None:
        return None
    owner, entry = found
    download = entry.download
    if download is None or isinstance(download, str | Path):
        return download
    state = plugin(owner)
    if state is not None:
        _check_plugin(state)
    try:
        made = download()
        if not isinstance(made, Path):
            raise TypeError(f"the download function returned {type(made).__name__}, not a Path")
    except Exception as exc:
        where = f"download of {name}"
        if state is not None:
            _disable(state, where, exc)
        raise PluginError(f"plugin {owner}: {where} failed: {_describe(exc)}") from exc
    return made
