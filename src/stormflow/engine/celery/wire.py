"""Jobs and results as plain JSON: what a Celery message and a Redis result carry.

Secrets never travel in clear: env variables named like a secret (PASSWORD, TOKEN, SECRET,
...) are dropped from the message with a warning. Workers start their commands with their own
environment underneath the job's, so a secret a command needs is set on the worker machines
(or fetched by the command from a vault), never written into a workflow document.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from stormflow.engine.jobs import Job, JobResult

log = logging.getLogger(__name__)

VERSION = 1
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE_KEY|API_KEY|CREDENTIAL", re.I)


def public_env(job: Job) -> dict[str, str]:
    """The job's env without secret-looking variables (warned about, once per job)."""
    kept = {k: v for k, v in job.env.items() if not SECRET_NAME.search(k)}
    dropped = sorted(set(job.env) - set(kept))
    if dropped:
        log.warning(
            "%s/%s: not sending env %s to a remote worker (secrets are set on the workers)",
            job.workflow_id,
            job.node,
            ", ".join(dropped),
        )
    return kept


def job_to_wire(job: Job, *, owner: str, heartbeat_ttl: float) -> dict[str, Any]:
    data = asdict(job)
    data["commands"] = [c if isinstance(c, str) else list(c) for c in job.commands]
    data["env"] = public_env(job)
    return {"v": VERSION, "owner": owner, "ttl": heartbeat_ttl, "job": data}


def job_from_wire(message: Mapping[str, Any]) -> tuple[Job, str, float]:
    """(job, owner, heartbeat ttl) from a message; raises ValueError on anything malformed."""
    if message.get("v") != VERSION:
        raise ValueError(f"unsupported message version {message.get('v')!r}")
    data = dict(message["job"])
    commands = tuple(
        c if isinstance(c, str) else tuple(str(a) for a in c) for c in data["commands"]
    )
    payload = data.pop("payload", None) or {}
    job = Job(
        **{**data, "commands": commands, "env": {str(k): str(v) for k, v in data["env"].items()}},
        payload=dict(payload),
    )
    return job, str(message["owner"]), float(message["ttl"])


def result_to_wire(result: JobResult) -> dict[str, Any]:
    return {"type": "result", **asdict(result)}


def result_from_wire(data: Mapping[str, Any]) -> JobResult:
    fields = {k: v for k, v in data.items() if k != "type"}
    return JobResult(**fields)
