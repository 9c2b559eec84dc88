"""Procedural transitions made by the engine: run, attempt started, succeed, fail.

Every run gets a fresh attempt token. A result for a token that is not the
node's live attempt (stopped by a person, superseded by a retry, or simply
delivered twice) is recorded as a stale event and changes nothing. Automatic
retries are further attempts inside `running`, each with its own token and a
backoff before it may start.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from .graph import GraphView
from .model import Attempt, AttemptResult, Event, Node, NotRunnable, Outcome, StatusChange
from .statuses import Status

#: Backoff before automatic retry n (1-based): base * 2**(n-1), capped.
DEFAULT_RETRY_DELAY = 2.0
MAX_RETRY_DELAY = 300.0


def is_runnable(graph: GraphView, name: str) -> bool:
    """open, and every direct upstream node is ready (succeeded or skipped)."""
    # The candidate itself is read whole (it is about to run); its upstream by status only.
    if graph.node(name).status is not Status.OPEN:
        return False
    return next(graph.unready_upstream(name), None) is None


def runnable(graph: GraphView, candidates: Iterable[str]) -> list[str]:
    """The candidates that may run now, in order, without duplicates."""
    return [n for n in dict.fromkeys(candidates) if graph.has(n) and is_runnable(graph, n)]


def token_for(node: Node, seq: int) -> str:
    return f"{node.name}#{seq}"


def retry_delay(node: Node, failed_attempts: int) -> float:
    base = node.current.get("retry_delay", DEFAULT_RETRY_DELAY)
    try:
        base = float(base)
    except (TypeError, ValueError):
        base = DEFAULT_RETRY_DELAY
    return float(min(max(base, 0.0) * 2 ** (failed_attempts - 1), MAX_RETRY_DELAY))


#: Attempts lost with their worker (crash, machine gone) are retried without using up
#: the node's own retries, up to this many times per run.
DEFAULT_LOST_RETRIES = 3


def _count(node: Node, key: str, default: int) -> int:
    value = node.current.get(key, default)
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return value if ok else default


def allowed_retries(node: Node) -> int:
    return _count(node, "retries", 0)


def retries_left(node: Node) -> bool:
    """Whether the node's last (ended) attempt may be followed by another automatically."""
    failed = sum(1 for a in node.attempts if a.result == "failed")
    lost = sum(1 for a in node.attempts if a.result == "lost")
    last = node.attempts[-1].result
    if last == "lost":
        return lost <= _count(node, "lost_retries", DEFAULT_LOST_RETRIES)
    return failed <= allowed_retries(node)


def _new_attempt(node: Node, at: float, not_before: float) -> tuple[Node, Attempt]:
    seq = node.attempt_seq + 1
    attempt = Attempt(
        number=len(node.attempts) + 1,
        token=token_for(node, seq),
        created_at=at,
        not_before=not_before,
    )
    return replace(node, attempts=(*node.attempts, attempt), attempt_seq=seq), attempt


def run(graph: GraphView, name: str, *, at: float) -> Outcome:
    """open -> running with attempt 1. Raises NotRunnable unless every upstream is ready."""
    if not is_runnable(graph, name):
        node = graph.node(name)
        raise NotRunnable(f"{name} is {node.status}; it runs only when open with inputs ready")
    node = graph.node(name)
    out = Outcome(action="run", actor="engine", at=at)
    new, attempt = _new_attempt(node, at, at)
    new = replace(new, status=Status.RUNNING)
    out.nodes[name] = new
    out.start.append((name, attempt))
    out.changes.append(StatusChange(name, node.status, Status.RUNNING, "run"))
    out.events.append(
        Event("run", name, node.status, Status.RUNNING, at=at, payload={"token": attempt.token})
    )
    return out


def run_ready(graph: GraphView, candidates: Iterable[str], *, at: float) -> Outcome:
    """Run every candidate that is runnable now, as one outcome (one transaction for a store).

    Runs are independent of each other: a runnable node's upstream nodes are ready, so
    none of them is another runnable candidate.
    """
    out = Outcome(action="run", actor="engine", at=at)
    for name in runnable(graph, candidates):
        out.merge(run(graph, name, at=at))
    return out


def _stale(node: Node, token: str, kind: str, at: float) -> Outcome:
    out = Outcome(action=kind, actor="engine", at=at, stale=True)
    out.events.append(
        Event(
            "stale-result",
            node.name,
            node.status,
            node.status,
            at=at,
            why=f"{kind} for token {token} ignored: not the live attempt",
            payload={"token": token, "result": kind},
        )
    )
    return out


def _live(graph: GraphView, name: str, token: str) -> Node | None:
    node = graph.node(name)
    return node if node.live_token == token else None


def started(
    graph: GraphView,
    name: str,
    token: str,
    *,
    at: float,
    worker: str | None = None,
    log: str | None = None,
) -> Outcome:
    """The engine began executing the attempt (a lease was taken)."""
    node = _live(graph, name, token)
    if node is None:
        return _stale(graph.node(name), token, "started", at)
    att = replace(node.attempts[-1], started_at=at, worker=worker, log=log)
    out = Outcome(action="started", actor="engine", at=at)
    out.nodes[name] = replace(node, attempts=(*node.attempts[:-1], att))
    out.events.append(
        Event(
            "attempt-started",
            name,
            at=at,
            payload={"token": token, "attempt": att.number, "worker": worker, "log": log},
        )
    )
    return out


def succeed(
    graph: GraphView, name: str, token: str, *, at: float, exit_code: int | None = 0
) -> Outcome:
    """running -> succeeded, if the token is the live attempt's."""
    node = _live(graph, name, token)
    if node is None:
        return _stale(graph.node(name), token, "succeed", at)
    att = replace(node.attempts[-1], result="succeeded", ended_at=at, exit_code=exit_code)
    new = replace(node, status=Status.SUCCEEDED, attempts=(*node.attempts[:-1], att))
    out = Outcome(action="succeed", actor="engine", at=at)
    out.nodes[name] = new
    out.changes.append(StatusChange(name, Status.RUNNING, Status.SUCCEEDED, "succeed"))
    out.events.append(
        Event(
            "succeed",
            name,
            Status.RUNNING,
            Status.SUCCEEDED,
            at=at,
            payload={"token": token, "attempt": att.number, "exit_code": exit_code},
        )
    )
    out.check.update(graph.downstream(name))
    return out


def fail(
    graph: GraphView,
    name: str,
    token: str,
    *,
    at: float,
    exit_code: int | None = None,
    error: str | None = None,
    lost: bool = False,
) -> Outcome:
    """The live attempt failed (or was lost with its worker).

    With automatic retries left, a new attempt is created (status stays
    running, the engine starts it after a backoff); otherwise running -> failed.
    A lost attempt is retried at once and does not use up the node's `retries`
    (it has its own budget, `lost_retries`): a crash is not the task's fault.
    """
    node = _live(graph, name, token)
    if node is None:
        return _stale(graph.node(name), token, "fail", at)
    result: AttemptResult = "lost" if lost else "failed"
    att = replace(node.attempts[-1], result=result, ended_at=at, exit_code=exit_code, error=error)
    node = replace(node, attempts=(*node.attempts[:-1], att))
    out = Outcome(action="fail", actor="engine", at=at)
    payload = {"token": token, "attempt": att.number, "exit_code": exit_code, "error": error}
    if retries_left(node):
        delay = 0.0 if lost else retry_delay(node, sum(a.result == "failed" for a in node.attempts))
        node, nxt = _new_attempt(node, at, at + delay)
        out.nodes[name] = node
        out.start.append((name, nxt))
        out.events.append(
            Event(
                f"attempt-{result}",
                name,
                Status.RUNNING,
                Status.RUNNING,
                at=at,
                why=f"automatic retry {nxt.number - 1} in {delay:g}s",
                payload={**payload, "next_token": nxt.token, "not_before": nxt.not_before},
            )
        )
        return out
    out.nodes[name] = replace(node, status=Status.FAILED)
    out.changes.append(StatusChange(name, Status.RUNNING, Status.FAILED, "fail"))
    out.events.append(
        Event("fail", name, Status.RUNNING, Status.FAILED, at=at, why=result, payload=payload)
    )
    return out
