"""The tables of the durable record (one set for SQLite and PostgreSQL).

Times are epoch seconds (double precision), as the core passes them. JSON columns
become JSONB on PostgreSQL. Attempt tokens are made by the core from the node name
(`render#3`), so they are unique per workflow, not globally: every attempt key
includes the workflow id.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

Json = JSON().with_variant(JSONB(), "postgresql")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

workflows = Table(
    "workflows",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", Text, nullable=False),
    Column("metadata", Json, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("archived", Boolean, nullable=False, default=False),
    Column("expires_at", Double),
    Column("owner", Text),
    # last event sequence number: bumped under the workflow lock, so seqs are gap-free
    Column("last_seq", Integer, nullable=False, default=0),
    # The summary, kept by every transaction that changes a node's status (migration 0004):
    # the derived status and the nodes per status. The scheduler finds work, and the list
    # filters, along an index instead of reading every workflow's nodes.
    Column("status", String(16), nullable=False, server_default=text("'succeeded'")),
    *(
        Column(f"count_{s}", Integer, nullable=False, server_default=text("0"))
        for s in ("open", "holding", "running", "succeeded", "skipped", "failed", "canceled")
    ),
    # when it was archived (null: it is not): retention removes the old ones (storm prune)
    Column("archived_at", Double),
    # the list, newest first (keyset pages), and the scheduler's "workflows with work"
    Index("ix_workflows_list", "archived", "created_at", "id"),
    Index("ix_workflows_status", "archived", "status", "created_at", "id"),
    Index("ix_workflows_archived_at", "archived_at"),
)

nodes = Table(
    "nodes",
    metadata,
    Column("workflow_id", String(32), ForeignKey("workflows.id"), primary_key=True),
    Column("name", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("submitted", String(16), nullable=False),
    Column("base", Json, nullable=False),
    Column("patch", Json, nullable=False),
    Column("snapshot_count", Integer, nullable=False, default=0),
    Column("attempt_seq", Integer, nullable=False, default=0),
    Column("group", Text),
    Column("frames", Text),
    Index("ix_nodes_workflow_status", "workflow_id", "status"),
)

edges = Table(
    "edges",
    metadata,
    Column("workflow_id", String(32), primary_key=True),
    Column("upstream", Text, primary_key=True),
    Column("downstream", Text, primary_key=True),
    ForeignKeyConstraint(
        ["workflow_id", "upstream"], ["nodes.workflow_id", "nodes.name"], name="fk_edges_upstream"
    ),
    ForeignKeyConstraint(
        ["workflow_id", "downstream"],
        ["nodes.workflow_id", "nodes.name"],
        name="fk_edges_downstream",
    ),
    Index("ix_edges_downstream", "workflow_id", "downstream", "upstream"),
)

snapshots = Table(
    "snapshots",
    metadata,
    Column("workflow_id", String(32), primary_key=True),
    Column("node", Text, primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("patch", Json, nullable=False),
    Column("status", String(16), nullable=False),
    Column("at", Double, nullable=False),
    Column("actor", Text, nullable=False),
    Column("why", Text, nullable=False),
    Column("caused_by", Text),
    ForeignKeyConstraint(
        ["workflow_id", "node"], ["nodes.workflow_id", "nodes.name"], name="fk_snapshots_node"
    ),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workflow_id", String(32), nullable=False),
    Column("node", Text, nullable=False),
    Column("number", Integer, nullable=False),
    Column("token", Text, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("not_before", Double, nullable=False),
    Column("started_at", Double),
    Column("ended_at", Double),
    Column("result", String(16)),  # null while the attempt is owed a result
    Column("exit_code", Integer),
    Column("error", Text),
    Column("worker", Text),
    Column("log", Text),
    Column("snapshot", Integer),  # null: the node's current run
    Column("lease_owner", Text),
    Column("lease_expires", Double),
    UniqueConstraint("workflow_id", "token", name="uq_attempts_token"),
    ForeignKeyConstraint(
        ["workflow_id", "node"], ["nodes.workflow_id", "nodes.name"], name="fk_attempts_node"
    ),
    # not `snapshot`: moving attempts into a snapshot then rewrites no index (migration 0003)
    Index("ix_attempts_node", "workflow_id", "node"),
    # the scheduler's two polls stay cheap however many ended attempts pile up
    Index(
        "ix_attempts_pending",
        "not_before",
        sqlite_where=text("result IS NULL AND lease_owner IS NULL"),
        postgresql_where=text("result IS NULL AND lease_owner IS NULL"),
    ),
    Index(
        "ix_attempts_leased",
        "lease_expires",
        sqlite_where=text("result IS NULL AND lease_owner IS NOT NULL"),
        postgresql_where=text("result IS NULL AND lease_owner IS NOT NULL"),
    ),
    Index("ix_attempts_owner", "lease_owner"),
    postgresql_with={"fillfactor": 70},  # room for in-place (HOT) updates
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workflow_id", String(32), ForeignKey("workflows.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("type", Text, nullable=False),
    Column("node", Text),
    Column("old", String(16)),
    Column("new", String(16)),
    Column("actor", Text, nullable=False),
    Column("at", Double, nullable=False),
    Column("why", Text),
    Column("caused_by", Text),
    Column("payload", Json, nullable=False),
    Column("correlation", Text),
    Column("idempotency_key", Text, unique=True),
    UniqueConstraint("workflow_id", "seq", name="uq_events_seq"),
)

requests = Table(
    "requests",
    metadata,
    Column("idempotency_key", Text, primary_key=True),
    Column("workflow_id", String(32)),
    Column("response", Json, nullable=False),
    Column("at", Double, nullable=False),
    Column("first_seq", Integer),
    Column("last_seq", Integer),
)

limits = Table(
    "limits",
    metadata,
    Column("name", Text, primary_key=True),
    Column("capacity", Integer, nullable=False),
)

limit_usage = Table(
    "limit_usage",
    metadata,
    Column("limit", Text, ForeignKey("limits.name", ondelete="CASCADE"), primary_key=True),
    Column("workflow_id", String(32), primary_key=True),
    Column("token", Text, primary_key=True),
    Index("ix_limit_usage_attempt", "workflow_id", "token"),
)

drafts = Table(
    "drafts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("document", Json, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    Column("workflow_id", String(32)),  # set when the draft was submitted
)

# -- uploads (issue 16): per upload node its figures, per file its parts ---------------------

upload_nodes = Table(
    "upload_nodes",
    metadata,
    Column("workflow_id", String(32), primary_key=True),
    Column("node", Text, primary_key=True),
    Column("token", Text),  # the attempt moving it now (or last)
    Column("host", Text),  # the workstation whose `storm uploader` serves it (None: any)
    Column("destination", Text, nullable=False),
    Column("state", Text, nullable=False),  # checking sending paused done failed stopped
    Column("paused", Boolean, nullable=False, server_default=text("false")),
    Column("files_total", Integer, nullable=False, server_default=text("0")),
    Column("files_done", Integer, nullable=False, server_default=text("0")),
    Column("files_skipped", Integer, nullable=False, server_default=text("0")),
    Column("bytes_total", BigInteger, nullable=False, server_default=text("0")),
    Column("bytes_done", BigInteger, nullable=False, server_default=text("0")),
    Column("bytes_saved", BigInteger, nullable=False, server_default=text("0")),
    Column("rate", Double, nullable=False, server_default=text("0")),
    Column("error", Text),
    Column("updated_at", Double, nullable=False),
)

upload_files = Table(
    "upload_files",
    metadata,
    Column("workflow_id", String(32), primary_key=True),
    Column("node", Text, primary_key=True),
    Column("path", Text, primary_key=True),
    Column("key", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("mtime_ns", BigInteger, nullable=False),
    Column("part_size", BigInteger, nullable=False),
    Column("state", Text, nullable=False),  # pending sending done skipped failed
    Column("hash", Text),
    Column("bytes_done", BigInteger, nullable=False, server_default=text("0")),
    Column("parts", Json, nullable=False),  # stored parts: {"number": hash}
    Column("upload_id", Text),  # S3 multipart upload being resumed
    Column("error", Text),
    Column("updated_at", Double, nullable=False),
)

# A child workflow started by a `workflow` node (migration 0007): one row per parent attempt
# that follows the child (a retry inside the child gives the parent node a new attempt, and a
# row of its own for the same child).
workflow_links = Table(
    "workflow_links",
    metadata,
    Column("parent_id", String(32), ForeignKey("workflows.id"), primary_key=True),
    Column("token", Text, primary_key=True),
    Column("node", Text, nullable=False),
    Column("child_id", String(32), ForeignKey("workflows.id"), nullable=False),
    Column("created_at", Double, nullable=False),
    Index("ix_workflow_links_child", "child_id"),
    Index("ix_workflow_links_node", "parent_id", "node"),
)

# Stored templates (migration 0008): workflow documents with `params`, instantiated by
# name (`storm templates`, the Composer's library, `workflow` nodes naming them).
templates = Table(
    "templates",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("document", Json, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
)

# The version of each DCC integration (add-on) that last talked to the server, from its
# `X-Storm-Client` header: the plugins page says when a newer one is offered.
client_versions = Table(
    "client_versions",
    metadata,
    Column("integration", String(64), primary_key=True),
    Column("client", String(64), nullable=False),
    Column("version", String(64), nullable=False),
    Column("seen_at", Double, nullable=False),
)


# -- external jobs (migration 0005) ------------------------------------------------------------

# Providers: the systems `external` nodes hand work to, configured once per store. `config`
# holds the checked configuration (URLs, commands, JSON pointers, polling schedule); secrets
# are never in it, only the names of the environment variables that hold them.
providers = Table(
    "providers",
    metadata,
    Column("name", Text, primary_key=True),
    Column("kind", String(16), nullable=False),  # http | command
    Column("config", Json, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
)

# What each waiting attempt waits for (the shadow graph's `waiting_for`): any scheduler reads
# it to poll, resume after a crash or cancel, and the webhook route to find the attempt.
# `next_poll` is when the next thing is due (a poll; a submit to repeat; giving up), taken by
# a conditional update so two schedulers never both act on one row.
waits = Table(
    "waits",
    metadata,
    Column("workflow_id", String(32), primary_key=True),
    Column("token", Text, primary_key=True),
    Column("node", Text, nullable=False),
    Column("kind", Text, nullable=False),  # the node kind that waits (external, workflow...)
    Column("provider", Text, nullable=False),
    # submitting | waiting | done | cancelling | canceled
    Column("state", String(16), nullable=False),
    Column("external_id", Text),
    Column("idempotency_key", Text, nullable=False),
    Column("request", Json, nullable=False),  # the rendered request: a resubmit sends it again
    Column("created_at", Double, nullable=False),
    Column("submitted_at", Double),
    Column("polled_at", Double),
    Column("next_poll", Double, nullable=False),
    Column("polls", Integer, nullable=False, default=0),
    Column("deadline", Double, nullable=False),  # the give-up horizon
    Column("progress", Double),
    Column("outputs", Json),
    Column("ended_at", Double),
    Column("ended_by", Text),  # webhook | poll | give-up | submit | cancel
    Column("error", Text),
    Index("ix_waits_due", "state", "next_poll"),
    Index("ix_waits_external", "provider", "external_id"),
)

# Inbound webhook events as received (raw body), once per provider event id: a duplicate
# callback finds its row and changes nothing. Bad signatures are never stored here.
hook_events = Table(
    "hook_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("provider", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("received_at", Double, nullable=False),
    Column("body", Text, nullable=False),
    Column("external_id", Text),
    # result | unknown-job (no wait had the job id yet) | late-result (an unknown-job event
    # applied when the submit's answer brought the id) | progress
    Column("outcome", Text, nullable=False),
    UniqueConstraint("provider", "event_id", name="uq_hook_events_event"),
    # a submit's answer looks for the events that came before it (engine/waits.py: `confirm`)
    Index("ix_hook_events_job", "provider", "external_id"),
)
