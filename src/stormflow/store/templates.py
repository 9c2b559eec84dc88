"""Stored templates: workflow documents kept by name, to be instantiated with params.

Checking a template is the caller's (the API validates before storing); this module only
keeps them. Names are unique: adding a taken name is refused unless it replaces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from .db import Database
from .schema import templates


class UnknownTemplate(LookupError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no stored template named {name!r}")


class TemplateExists(ValueError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"a template named {name!r} is already stored")


@dataclass(frozen=True, slots=True)
class TemplateRow:
    name: str
    document: dict[str, Any]
    created_at: float
    updated_at: float


def _row(row: Any) -> TemplateRow:
    return TemplateRow(row.name, row.document, row.created_at, row.updated_at)


class Templates(Database):
    def put_template(
        self, name: str, document: dict[str, Any], *, at: float, replace: bool = False
    ) -> tuple[TemplateRow, bool]:
        """Store a template; (row, created). A taken name raises TemplateExists unless
        `replace`. Two callers adding one name at once: one creates it, the other is
        refused (or replaces it)."""
        try:
            with self.write() as conn:
                conn.execute(
                    templates.insert().values(
                        name=name, document=document, created_at=at, updated_at=at
                    )
                )
                return TemplateRow(name, document, at, at), True
        except IntegrityError:
            if not replace:
                raise TemplateExists(name) from None
        with self.write() as conn:
            done = conn.execute(
                update(templates)
                .where(templates.c.name == name)
                .values(document=document, updated_at=at)
            )
            if done.rowcount == 0:  # removed meanwhile
                raise UnknownTemplate(name)
            row = conn.execute(select(templates).where(templates.c.name == name)).one()
        return _row(row), False

    def template(self, name: str) -> TemplateRow:
        with self.read() as conn:
            row = conn.execute(select(templates).where(templates.c.name == name)).first()
        if row is None:
            raise UnknownTemplate(name)
        return _row(row)

    def find_template(self, name: str) -> dict[str, Any] | None:
        """The document of the template named, or None (a `spec.templates.Lookup`)."""
        try:
            return self.template(name).document
        except UnknownTemplate:
            return None

    def templates(self) -> list[TemplateRow]:
        with self.read() as conn:
            rows = conn.execute(select(templates).order_by(templates.c.name)).all()
        return [_row(r) for r in rows]

    def delete_template(self, name: str) -> None:
        with self.write() as conn:
            done = conn.execute(delete(templates).where(templates.c.name == name))
        if done.rowcount == 0:
            raise UnknownTemplate(name)
