"""Storm client for DCCs and scripts: build a workflow, talk to `storm server`.

One module, standard library only, Python 3.7+ (older DCCs embed 3.7), so it can
be copied next to a Maya/Houdini/Nuke script. It speaks the HTTP API of
docs/api.md.

    from stormflow.client import Client, Workflow

    wf = Workflow("shot010", metadata={"shot": "sh010"})
    sim = wf.task("simulate", [["python", "sim.py"]])
    render = wf.task("render", [["render", "{start}", "{end}"]], frames="1-100", chunk_size=10)
    sim >> render
    client = Client()                  # STORM_SERVER/STORM_TOKEN, else ~/.storm/server.json
    answer = client.submit(wf)         # {"id", "name", "status", "url"}
    client.update(answer["id"], {"instance_type": "mem-64"}, status="failed", glob="render.*")
"""

from __future__ import annotations

import codecs
import contextlib
import getpass
import json
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import webbrowser
from http.client import HTTPException
from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

__all__ = ["Client", "NodeRef", "StormError", "Workflow", "discover"]

API_PREFIX = "/api/v1"
DEFAULT_TIMEOUT = 30.0
#: GET answers kept with their ETag for conditional requests.
MAX_VALIDATED = 256

Command = Union[List[str], str]
Document = Dict[str, Any]
Names = Union[str, Sequence[str], None]


class StormError(Exception):
    """Any failure talking to the server: no server found, unreachable, or an HTTP error.

    `status` is the HTTP status (None when no answer came), `code` the server's stable
    error id, `message` its one-line message, `where` and `details` as the server sent.
    """

    def __init__(
        self,
        message: str,
        status: Optional[int] = None,
        code: Optional[str] = None,
        where: Optional[str] = None,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.where = where
        self.details = details


# ---------------------------------------------------------------------------- builder


class NodeRef:
    """A handle on a node of a Workflow; `a >> b` adds the edge a -> b and returns b."""

    def __init__(self, workflow: Workflow, name: str) -> None:
        self.workflow = workflow
        self.name = name

    def __rshift__(self, other: Any) -> Any:
        for target in other if isinstance(other, list) else [other]:
            self.workflow.edge(self, target)
        return other

    def __repr__(self) -> str:
        return "NodeRef({!r})".format(self.name)


class Workflow:
    """The same document `stormflow.spec.Workflow` builds (docs/workflows.md), as plain data."""

    def __init__(
        self, name: str, metadata: Optional[Dict[str, Any]] = None, schema: int = 1
    ) -> None:
        self.name = name
        self.metadata = dict(metadata or {})
        self.schema = schema
        self._nodes = []  # type: List[Dict[str, Any]]
        self._edges = []  # type: List[Any]

    def node(self, name: str, kind: str, status: str = "open", **params: Any) -> NodeRef:
        """Add a node of any kind the server knows; None-valued parameters are left out."""
        node = {"name": name, "kind": kind}  # type: Dict[str, Any]
        if status != "open":
            node["status"] = status
        node.update((k, v) for k, v in params.items() if v is not None)
        self._nodes.append(node)
        return NodeRef(self, name)

    def task(
        self, name: str, commands: List[Command], status: str = "open", **params: Any
    ) -> NodeRef:
        """A task: commands run in series; params as in YAML (frames, chunk_size, env, ...)."""
        return self.node(name, "task", status, commands=commands, **params)

    def email(
        self,
        name: str,
        addresses: List[str],
        subject: Optional[str] = None,
        body: Optional[str] = None,
        status: str = "open",
        **params: Any,
    ) -> NodeRef:
        return self.node(
            name, "email", status, addresses=addresses, subject=subject, body=body, **params
        )

    def webhook(
        self,
        name: str,
        url: str,
        format: Optional[str] = None,
        text: Optional[str] = None,
        secret_env: Optional[str] = None,
        status: str = "open",
        **params: Any,
    ) -> NodeRef:
        """A notice POSTed to url: Storm's signed JSON (format "json") or {"text"} for Slack
        ("slack"); secret_env names the environment variable holding the signing secret."""
        return self.node(
            name,
            "webhook",
            status,
            url=url,
            format=format,
            text=text,
            secret_env=secret_env,
            **params,
        )

    def external(
        self,
        name: str,
        provider: str,
        request: Dict[str, Any],
        outputs: Optional[Dict[str, str]] = None,
        status: str = "open",
        **params: Any,
    ) -> NodeRef:
        """A job handed to a configured provider (storm providers ls), waited for without a slot."""
        return self.node(
            name, "external", status, provider=provider, request=request, outputs=outputs, **params
        )

    def edge(
        self,
        upstream: Union[NodeRef, str],
        downstream: Union[NodeRef, str],
        mode: Optional[str] = None,
    ) -> None:
        up = upstream.name if isinstance(upstream, NodeRef) else upstream
        down = downstream.name if isinstance(downstream, NodeRef) else downstream
        self._edges.append([up, down] if mode is None else {"from": up, "to": down, "mode": mode})

    def to_dict(self) -> Document:
        data = {"schema": self.schema, "name": self.name}  # type: Dict[str, Any]
        if self.metadata:
            data["metadata"] = dict(self.metadata)
        data["nodes"] = [dict(n) for n in self._nodes]
        data["edges"] = [list(e) if isinstance(e, list) else dict(e) for e in self._edges]
        return data


# -------------------------------------------------------------------------- discovery


def _home() -> str:
    home = os.environ.get("STORM_HOME", "").strip()
    return os.path.expanduser(home) if home else os.path.join(os.path.expanduser("~"), ".storm")


def _read(path: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except OSError:
        return None


def discover() -> Dict[str, Any]:
    """Where the server is and its token, with where each came from (for messages).

    STORM_SERVER / STORM_TOKEN win; else `server.json` and `token` in STORM_HOME
    (default ~/.storm), which `storm server` writes on start.
    """
    home = _home()
    found = {
        "url": None,
        "token": None,
        "source": None,
        "home": home,
        "local_url": None,  # what server.json names: the server the token file belongs to
        "token_from_env": False,
    }  # type: Dict[str, Any]
    text = _read(os.path.join(home, "server.json"))
    if text is not None:
        try:
            info = json.loads(text)
        except ValueError:
            info = None
        if isinstance(info, dict) and info.get("url"):
            found["local_url"] = str(info["url"])
    url = os.environ.get("STORM_SERVER", "").strip()
    if url:
        found["url"], found["source"] = url, "STORM_SERVER"
    elif found["local_url"]:
        found["url"] = found["local_url"]
        found["source"] = os.path.join(home, "server.json")
    token = os.environ.get("STORM_TOKEN", "").strip()
    found["token_from_env"] = bool(token)
    if not token:
        token = (_read(os.path.join(home, "token")) or "").strip()
    found["token"] = token or None
    return found


def _token_for(root: str, found: Dict[str, Any]) -> Optional[str]:
    """The discovered token, unless it is the local token file and `root` is another server.

    The token file belongs to the server in server.json (or, with none running, to
    one on this machine); it is never sent to a remote server named by hand.
    """
    if found["token_from_env"] or not found["token"]:
        return found["token"]  # type: ignore[no-any-return]
    if found["local_url"] and _api_base(found["local_url"]) == root:
        return found["token"]  # type: ignore[no-any-return]
    host = urllib.parse.urlsplit(root).hostname or ""
    return found["token"] if host in ("127.0.0.1", "localhost", "::1") else None


def _api_base(url: str) -> str:
    """Accept `host:port`, `http://host:port` or the full `.../api/v1` URL."""
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = "http://" + url
    if url.endswith(API_PREFIX):
        url = url[: -len(API_PREFIX)]
    return url


def _q(name: str) -> str:
    return urllib.parse.quote(str(name), safe="")


def _as_list(value: Names) -> Optional[List[str]]:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return list(value)


# ----------------------------------------------------------------------------- client


class Client:
    """One Storm server. Every method returns the server's JSON answer as plain data."""

    def __init__(
        self,
        url: Optional[str] = None,
        token: Optional[str] = None,
        timeout: float = DEFAULT_TIMEOUT,
        user: Optional[str] = None,
    ) -> None:
        found = discover()
        source = "argument" if url else found["source"]
        url = url or found["url"]
        if not url:
            raise StormError(
                "no Storm server found: set STORM_SERVER (and STORM_TOKEN) or start "
                "`storm server` (no server.json in {})".format(found["home"]),
                code="no-server",
            )
        self.root = _api_base(url)
        self.base = self.root + API_PREFIX
        self.source = source
        self.token = token or _token_for(self.root, found)
        self.timeout = timeout
        self.user = user or _user()
        # GET answers by URL with their ETag: asked again with If-None-Match, an unchanged
        # answer costs the server one indexed read and comes back as an empty 304
        self._validated = {}  # type: Dict[str, Any]

    def __repr__(self) -> str:
        return "Client({!r})".format(self.root)

    # -- transport

    def _open(
        self,
        method: str,
        path: str,
        query: Optional[Dict[str, Any]] = None,
        body: Any = None,
        headers: Optional[Dict[str, str]] = None,
        timeout: Optional[float] = -1.0,
    ) -> Any:
        """The open HTTP response; any failure becomes a StormError."""
        url = self.base + path
        params = _query(query)
        if params:
            url += "?" + params
        data = None
        all_headers = {"Accept": "application/json", "X-Storm-User": self.user}
        if self.token:
            all_headers["Authorization"] = "Bearer " + self.token
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        request = urllib.request.Request(url, data=data, headers=all_headers, method=method)
        wait = self.timeout if timeout is not None and timeout < 0 else timeout
        try:
            return urllib.request.urlopen(request, timeout=wait)
        except urllib.error.HTTPError as exc:
            if exc.code == 304:
                return exc  # not modified: a response without a body (see request)
            raise _http_error(exc, method, path) from None
        except (urllib.error.URLError, OSError, HTTPException) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise StormError(
                "cannot reach the Storm server at {} (from {}): {}".format(
                    self.root, self.source, reason
                ),
                code="unreachable",
            ) from None

    def request(
        self,
        method: str,
        path: str,
        query: Optional[Dict[str, Any]] = None,
        body: Any = None,
        headers: Optional[Dict[str, str]] = None,
    ) -> Any:
        """One call of the API (path below /api/v1): parsed JSON, text, or None for 204.

        A GET sends the ETag of the answer it got last time for the same URL; a 304 returns
        that answer again (a copy: changing it changes nothing kept).
        """
        key = path + "?" + _query(query) if method == "GET" else ""
        kept = self._validated.get(key) if key else None
        if kept is not None:
            headers = dict(headers or {}, **{"If-None-Match": kept[0]})
        response = self._open(method, path, query, body, headers)
        if kept is not None and response.status == 304:
            response.close()
            return json.loads(kept[1])
        with response:
            try:
                raw = response.read()
            except (OSError, HTTPException) as exc:
                raise StormError(
                    "connection to {} lost: {}".format(self.root, exc), code="unreachable"
                ) from None
            if response.status == 204 or not raw:
                return None
            kind = response.headers.get("Content-Type", "")
            text = raw.decode("utf-8", "replace")
            if "json" not in kind:
                return text
            tag = response.headers.get("ETag")
            if key and tag:
                if len(self._validated) >= MAX_VALIDATED and key not in self._validated:
                    self._validated.pop(next(iter(self._validated)))  # the oldest
                self._validated[key] = (tag, text)
            return json.loads(text)

    def _post(self, path: str, body: Any = None, idempotency_key: Optional[str] = None) -> Any:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self.request("POST", path, body=body if body is not None else {}, headers=headers)

    # -- server, documents, drafts

    def health(self) -> Dict[str, Any]:
        return self.request("GET", "/health")  # type: ignore[no-any-return]

    def validate(self, doc: Any) -> Dict[str, Any]:
        """`{"entries", "errors", "warnings"}` for a document (dict or Workflow)."""
        return self._post("/validate", _doc(doc))  # type: ignore[no-any-return]

    def fix(self, doc: Any, fixer: str) -> Dict[str, Any]:
        """`{"document", "entries"}`: the document with one named fixer applied."""
        return self._post("/fix", {"document": _doc(doc), "fixer": fixer})  # type: ignore[no-any-return]

    def draft(self, doc: Any) -> Dict[str, Any]:
        """Store a draft (errors allowed): `{"id", "url", "entries"}`; url opens the Composer."""
        answer = self._post("/drafts", _doc(doc))
        url = answer.get("url") or ""
        if url.startswith("/"):
            answer["url"] = self.root + url
        return answer  # type: ignore[no-any-return]

    def open_draft(self, doc: Any) -> Dict[str, Any]:
        """`draft(doc)`, then open the Composer on it in the default web browser."""
        answer = self.draft(doc)
        webbrowser.open(answer["url"])
        return answer

    def get_draft(self, draft_id: str) -> Dict[str, Any]:
        return self.request("GET", "/drafts/" + _q(draft_id))  # type: ignore[no-any-return]

    def submit_draft(self, draft_id: str) -> Dict[str, Any]:
        return self._post("/drafts/{}/submit".format(_q(draft_id)))  # type: ignore[no-any-return]

    def submit(self, doc: Any, idempotency_key: Optional[str] = None) -> Dict[str, Any]:
        """Submit a workflow: `{"id", "name", "status", "url"}`; errors raise StormError (422)."""
        return self._post("/workflows", _doc(doc), idempotency_key)  # type: ignore[no-any-return]

    # -- workflows and nodes

    def workflows(self, **filters: Any) -> List[Dict[str, Any]]:
        """Summaries, newest first; filters: status, name (glob), archived, limit, offset,
        cursor (a page's `next_cursor`: see `workflow_pages`)."""
        return self.request("GET", "/workflows", filters)["items"]  # type: ignore[no-any-return]

    def workflow_pages(self, **filters: Any) -> Iterator[List[Dict[str, Any]]]:
        """Every page of summaries, newest first, followed by keyset cursor."""
        query = dict(filters)
        while True:
            page = self.request("GET", "/workflows", query)
            yield page["items"]
            if not page.get("next_cursor"):
                return
            query["cursor"] = page["next_cursor"]

    def workflow(self, workflow_id: str) -> Dict[str, Any]:
        return self.request("GET", "/workflows/" + _q(workflow_id))  # type: ignore[no-any-return]

    def archive(self, workflow_id: str) -> Dict[str, Any]:
        """Archive and stop it: its running nodes are canceled; nothing more of it runs."""
        return self._post("/workflows/{}/archive".format(_q(workflow_id)))  # type: ignore[no-any-return]

    def unarchive(self, workflow_id: str) -> Dict[str, Any]:
        """Back in the list; nothing resumes by itself (retry the canceled nodes)."""
        return self._post("/workflows/{}/unarchive".format(_q(workflow_id)))  # type: ignore[no-any-return]

    def graph(self, workflow_id: str, offset: int = 0, limit: Optional[int] = None) -> Any:
        """The compact graph: `{"total", "nodes": {"name": [...], ...}, "edges": [[i, j]]}`."""
        query = {"offset": offset, "limit": limit}
        return self.request("GET", "/workflows/{}/graph".format(_q(workflow_id)), query)

    def nodes(
        self,
        workflow_id: str,
        status: Names = None,
        kind: Names = None,
        glob: Optional[str] = None,
        limit: Optional[int] = None,
        offset: Optional[int] = None,
    ) -> List[Dict[str, Any]]:
        """Node rows (`name, kind, status, group, frames`) by name, filtered."""
        query = {
            "status": _as_list(status),
            "kind": _as_list(kind),
            "glob": glob,
            "limit": limit,
            "offset": offset,
        }
        path = "/workflows/{}/nodes".format(_q(workflow_id))
        return self.request("GET", path, query)["items"]  # type: ignore[no-any-return]

    def iter_nodes(
        self,
        workflow_id: str,
        status: Names = None,
        kind: Names = None,
        glob: Optional[str] = None,
        page: int = 1000,
    ) -> Iterator[Dict[str, Any]]:
        """Every node row, `page` at a time, following the server's cursors: each node once,
        even while statuses change between pages. Unchanged pages cost a 304."""
        path = "/workflows/{}/nodes".format(_q(workflow_id))
        query = {"status": _as_list(status), "kind": _as_list(kind), "glob": glob, "limit": page}
        while True:
            answer = self.request("GET", path, query)
            for row in answer["items"]:
                yield row
            if not answer.get("next"):
                return
            query["cursor"] = answer["next"]

    def node(self, workflow_id: str, name: str) -> Dict[str, Any]:
        return self.request("GET", _node_path(workflow_id, name))  # type: ignore[no-any-return]

    # -- actions

    def act(
        self,
        workflow_id: str,
        action: str,
        names: Names = None,
        glob: Optional[str] = None,
        status: Names = None,
        kind: Names = None,
        patch: Optional[Dict[str, Any]] = None,
        target: Optional[str] = None,
        snapshot: Optional[int] = None,
        strict: bool = False,
        idempotency_key: Optional[str] = None,
        dry_run: bool = False,
    ) -> Dict[str, Any]:
        """One action on a selection, one transaction: the server's ActionAnswer.

        The selection is every node matching all given filters (exact names, a glob,
        statuses, kinds). Nodes the action is not allowed on come back in
        `ineligible` with the reason; with strict=True the server refuses instead (409).
        dry_run=True answers what the action would do now (`counts` says how many
        nodes restart, are reset downstream, ...) and changes nothing.
        """
        selection = {}  # type: Dict[str, Any]
        if names is not None:
            selection["names"] = _as_list(names)
        if glob is not None:
            selection["glob"] = glob
        if status is not None:
            selection["status"] = _as_list(status)
        if kind is not None:
            selection["kind"] = _as_list(kind)
        if not selection:
            raise StormError(
                "no selection: give node names, a glob, a status or a kind", code="no-selection"
            )
        body = {"action": action, "selection": selection, "strict": strict}  # type: Dict[str, Any]
        if patch is not None:
            body["patch"] = patch
        if target is not None:
            body["target"] = target
        if snapshot is not None:
            body["snapshot"] = snapshot
        if dry_run:
            body["dry_run"] = True
        path = "/workflows/{}/actions".format(_q(workflow_id))
        return self._post(path, body, idempotency_key)  # type: ignore[no-any-return]

    def hold(self, workflow_id: str, names: Names = None, **selection: Any) -> Dict[str, Any]:
        return self.act(workflow_id, "hold", names, **selection)

    def unhold(self, workflow_id: str, names: Names = None, **selection: Any) -> Dict[str, Any]:
        return self.act(workflow_id, "unhold", names, **selection)

    def skip(self, workflow_id: str, names: Names = None, **selection: Any) -> Dict[str, Any]:
        return self.act(workflow_id, "skip", names, **selection)

    def cancel(self, workflow_id: str, names: Names = None, **selection: Any) -> Dict[str, Any]:
        return self.act(workflow_id, "cancel", names, **selection)

    def retry(self, workflow_id: str, names: Names = None, **selection: Any) -> Dict[str, Any]:
        return self.act(workflow_id, "retry", names, **selection)

    def revert(self, workflow_id: str, names: Names = None, **selection: Any) -> Dict[str, Any]:
        return self.act(workflow_id, "revert", names, **selection)

    def update(
        self, workflow_id: str, patch: Dict[str, Any], names: Names = None, **selection: Any
    ) -> Dict[str, Any]:
        """Merge `patch` (RFC 7386; None removes a key) into each selected node, then rerun."""
        return self.act(workflow_id, "update", names, patch=patch, **selection)

    def replay(
        self, workflow_id: str, snapshot: int, names: Names = None, **selection: Any
    ) -> Dict[str, Any]:
        """Make the patch stored in snapshot N the current one, then rerun."""
        return self.act(workflow_id, "replay", names, snapshot=snapshot, **selection)

    # -- history, attempts, logs

    def history(self, workflow_id: str, name: str) -> Dict[str, Any]:
        """`{"current", "snapshots" (newest first), "base"}`."""
        return self.request("GET", _node_path(workflow_id, name) + "/history")  # type: ignore[no-any-return]

    def diff(
        self,
        workflow_id: str,
        name: str,
        a: Union[str, int] = "current",
        b: Union[str, int] = "base",
    ) -> Dict[str, Any]:
        """Changes between two configurations: `current`, `base` or a snapshot number."""
        path = _node_path(workflow_id, name) + "/diff"
        return self.request("GET", path, {"a": a, "b": b})  # type: ignore[no-any-return]

    def attempts(self, workflow_id: str, name: str) -> List[Dict[str, Any]]:
        return self.request("GET", _node_path(workflow_id, name) + "/attempts")  # type: ignore[no-any-return]

    def log(
        self,
        workflow_id: str,
        name: str,
        attempt: Union[str, int] = "latest",
        tail: Optional[int] = None,
    ) -> str:
        path = _node_path(workflow_id, name) + "/log"
        text = self.request("GET", path, {"attempt": attempt, "tail": tail})
        if text is None:
            return ""
        return text if isinstance(text, str) else json.dumps(text)

    def follow_log(
        self,
        workflow_id: str,
        name: str,
        attempt: Union[str, int] = "latest",
        tail: Optional[int] = None,
    ) -> Iterator[str]:
        """Text chunks of a log as they are written, until that attempt ends."""
        path = _node_path(workflow_id, name) + "/log"
        query = {"attempt": attempt, "tail": tail, "follow": True}
        # No read timeout: a quiet render may print nothing for minutes.
        response = self._open("GET", path, query, headers={"Accept": "text/plain"}, timeout=None)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        with response:
            while True:
                try:
                    chunk = _read_some(response)
                except (OSError, HTTPException) as exc:
                    raise StormError(
                        "log stream from {} broke: {}".format(self.root, exc), code="unreachable"
                    ) from None
                if not chunk:
                    break
                text = decoder.decode(chunk)
                if text:
                    yield text
            rest = decoder.decode(b"", True)
            if rest:
                yield rest

    # -- events

    def events(
        self, workflow_id: str, after: int = 0, limit: Optional[int] = None
    ) -> Dict[str, Any]:
        """`{"items": [EventOut], "last_seq"}`: events with seq > after, oldest first."""
        path = "/workflows/{}/events".format(_q(workflow_id))
        return self.request("GET", path, {"after": after, "limit": limit})  # type: ignore[no-any-return]

    def latest_seq(self, workflow_id: str) -> int:
        """The seq of the workflow's newest event (0 if none), in O(log n) small requests.

        Seqs are gap-free per workflow from 1, so "is there an event after N" is a
        monotone test: grow N exponentially, then bisect.
        """

        def exists(seq: int) -> bool:
            return bool(self.events(workflow_id, after=seq - 1, limit=1)["items"])

        if not exists(1):
            return 0
        low, high = 1, 2
        while exists(high):
            low, high = high, high * 2
        while high - low > 1:  # exists(low), not exists(high)
            middle = (low + high) // 2
            if exists(middle):
                low = middle
            else:
                high = middle
        return low

    def stream_events(
        self,
        workflow_id: str,
        after: int = 0,
        reconnect: bool = True,
        retry_delay: float = 1.0,
        max_failures: int = 30,
    ) -> Iterator[Dict[str, Any]]:
        """Events as they happen (EventOut dicts), forever; break out of the loop to stop.

        A dropped connection is reopened with `Last-Event-ID` set to the last event
        received, so nothing is missed or repeated. HTTP errors (401, 404) are raised;
        after `max_failures` failed reconnections in a row the last error is raised.
        """
        path = "/workflows/{}/events/stream".format(_q(workflow_id))
        last = int(after)
        failures = 0
        while True:
            headers = {"Accept": "text/event-stream", "Last-Event-ID": str(last)}
            try:
                # The server sends a keepalive every 15 s; silence for longer is a dead link.
                response = self._open(
                    "GET", path, {"after": last}, headers=headers, timeout=max(self.timeout, 45.0)
                )
            except StormError as exc:
                failures += 1
                if exc.status is not None or not reconnect or failures > max_failures:
                    raise
                time.sleep(retry_delay)
                continue
            failures = 0
            try:
                with response:
                    for event_id, data in _sse(response):
                        if event_id is not None and event_id.isdigit():
                            last = int(event_id)
                        if data is None:
                            continue
                        event = json.loads(data)
                        if not isinstance(event, dict) or not isinstance(event.get("seq"), int):
                            continue  # `reconnect` (we fell behind): the stream ends; resume
                        last = max(last, event["seq"])
                        yield event
            except (OSError, HTTPException, ValueError):
                if not reconnect:
                    raise StormError(
                        "event stream from {} broke".format(self.root), code="unreachable"
                    ) from None
            if not reconnect:
                return
            time.sleep(min(retry_delay, 0.2))

    # -- limits

    def limits(self) -> List[Dict[str, Any]]:
        """`[{"name", "capacity", "used"}]`: named limits shared by every workflow."""
        return self.request("GET", "/limits")  # type: ignore[no-any-return]

    def set_limit(self, name: str, capacity: int) -> Dict[str, Any]:
        return self.request("PUT", "/limits/" + _q(name), body={"capacity": capacity})  # type: ignore[no-any-return]

    # -- providers

    def providers(self) -> List[Dict[str, Any]]:
        """`[{"name", "kind", "config", "waiting", "webhook"}]`: never a secret."""
        return self.request("GET", "/providers")  # type: ignore[no-any-return]

    def provider(self, name: str) -> Dict[str, Any]:
        return self.request("GET", "/providers/" + _q(name))  # type: ignore[no-any-return]

    def put_provider(self, name: str, config: Dict[str, Any]) -> Dict[str, Any]:
        return self.request("PUT", "/providers/" + _q(name), body=config)  # type: ignore[no-any-return]

    def remove_provider(self, name: str) -> Dict[str, Any]:
        return self.request("DELETE", "/providers/" + _q(name))  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------- helpers


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no USER and no passwd entry (some containers)
        return "unknown"


def _doc(doc: Any) -> Any:
    return doc.to_dict() if hasattr(doc, "to_dict") else doc


def _node_path(workflow_id: str, name: str) -> str:
    return "/workflows/{}/nodes/{}".format(_q(workflow_id), _q(name))


def _query(query: Optional[Dict[str, Any]]) -> str:
    pairs = []  # type: List[Any]
    for key, value in (query or {}).items():
        if value is None:
            continue
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, bool):
                item = "true" if item else "false"
            pairs.append((key, str(item)))
    return urllib.parse.urlencode(pairs)


def _http_error(exc: urllib.error.HTTPError, method: str, path: str) -> StormError:
    try:
        raw = exc.read().decode("utf-8", "replace")
    except Exception:
        raw = ""
    error = None
    with contextlib.suppress(ValueError, AttributeError):
        error = json.loads(raw).get("error")
    if isinstance(error, dict):
        message = str(error.get("message") or "HTTP {}".format(exc.code))
        if exc.code == 401:
            message += " (set STORM_TOKEN, or check the token file in STORM_HOME)"
        return StormError(
            message, exc.code, error.get("code"), error.get("where"), error.get("details")
        )
    text = raw.strip().splitlines()[0][:200] if raw.strip() else (exc.reason or "")
    return StormError(
        "HTTP {} from {} {}: {}".format(exc.code, method, path, text), exc.code, "http-error"
    )


def _read_some(response: Any) -> bytes:
    """Whatever bytes are available (not a full buffer), so followers see lines promptly."""
    read1 = getattr(response, "read1", None)
    if read1 is not None:
        try:
            return read1(65536)  # type: ignore[no-any-return]
        except (AttributeError, TypeError):  # pragma: no cover - odd response objects
            pass
    return response.readline()  # type: ignore[no-any-return]


def _sse(response: Any) -> Iterator[Any]:
    """(id, data) per Server-Sent Event; data None for events with no data line."""
    event_id = None
    data = []  # type: List[str]
    while True:
        try:
            line = response.readline()
        except socket.timeout:
            raise OSError("event stream timed out") from None
        if not line:
            return
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        if not text:
            if data or event_id is not None:
                yield event_id, ("\n".join(data) if data else None)
            event_id, data = None, []
            continue
        if text.startswith(":"):
            continue  # comment (keepalive)
        field, _, value = text.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "id":
            event_id = value
        elif field == "data":
            data.append(value)
