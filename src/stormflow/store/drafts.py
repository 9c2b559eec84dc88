"""Drafts: workflow documents kept while someone composes them (the web Composer, a DCC).

A draft's document is any JSON object, errors included; it becomes a workflow only
through a submit, which records the workflow's id on the draft.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update

from .db import Database
from .schema import drafts

_ID_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"


class UnknownDraft(LookupError):
    def __init__(self, draft_id: str) -> None:
        self.draft_id = draft_id
        super().__init__(f"unknown draft {draft_id!r}")


@dataclass(frozen=True, slots=True)
class DraftRow:
    id: str
    document: dict[str, Any]
    created_at: float
    updated_at: float
    workflow_id: str | None


def _row(row: Any) -> DraftRow:
    return DraftRow(row.id, row.document, row.created_at, row.updated_at, row.workflow_id)


class Drafts(Database):
    def create_draft(self, document: dict[str, Any], *, at: float) -> str:
        # 12 characters: a draft's URL carries no other secret than the server token
        draft_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))
        with self.write() as conn:
            conn.execute(
                drafts.insert().values(id=draft_id, document=document, created_at=at, updated_at=at)
            )
        return draft_id

    def draft(self, draft_id: str) -> DraftRow:
        with self.read() as conn:
            row = conn.execute(select(drafts).where(drafts.c.id == draft_id)).first()
        if row is None:
            raise UnknownDraft(draft_id)
        return _row(row)

    def update_draft(
        self,
        draft_id: str,
        *,
        at: float,
        document: dict[str, Any] | None = None,
        workflow_id: str | None = None,
    ) -> DraftRow:
        values: dict[str, Any] = {"updated_at": at}
        if document is not None:
            values["document"] = document
        if workflow_id is not None:
            values["workflow_id"] = workflow_id
        with self.write() as conn:
            done = conn.execute(update(drafts).where(drafts.c.id == draft_id).values(**values))
            if done.rowcount == 0:
                raise UnknownDraft(draft_id)
            row = conn.execute(select(drafts).where(drafts.c.id == draft_id)).one()
        return _row(row)

    def delete_draft(self, draft_id: str) -> None:
        with self.write() as conn:
            done = conn.execute(delete(drafts).where(drafts.c.id == draft_id))
        if done.rowcount == 0:
            raise UnknownDraft(draft_id)
