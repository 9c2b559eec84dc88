"""The DCC integrations' client versions: which version of an add-on last talked to us."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from .db import Database
from .schema import client_versions


@dataclass(frozen=True, slots=True)
class ClientSeen:
    integration: str
    client: str
    version: str
    seen_at: float


class ClientVersions(Database):
    def record_client(self, integration: str, client: str, version: str, *, at: float) -> None:
        """Remember that `client/version` of `integration` talked to the server at `at`."""
        values = {"client": client, "version": version, "seen_at": at}
        for _ in range(2):  # two first sightings at once: the loser's insert becomes an update
            try:
                with self.write() as conn:
                    done = conn.execute(
                        update(client_versions)
                        .where(client_versions.c.integration == integration)
                        .values(**values)
                    )
                    if done.rowcount == 0:
                        conn.execute(
                            client_versions.insert().values(integration=integration, **values)
                        )
                return
            except IntegrityError:
                continue

    def clients_seen(self) -> dict[str, ClientSeen]:
        with self.read() as conn:
            rows = conn.execute(select(client_versions)).all()
        return {
            r.integration: ClientSeen(r.integration, r.client, r.version, r.seen_at) for r in rows
        }
