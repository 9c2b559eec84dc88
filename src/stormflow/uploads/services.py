"""What an executor hands the upload kind: the store's ledger and the data directory's cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stormflow.store import Store
from stormflow.uploads.hashing import HashCache
from stormflow.uploads.storeledger import StoreLedger

HASH_CACHE = Path("uploads") / "hashes.sqlite"


def upload_services(store: Store, data_dir: Path, host: str | None = None) -> dict[str, Any]:
    hashes = HashCache(Path(data_dir) / HASH_CACHE)

    def ledger(
        workflow_id: str, node: str, token: str, destination: str, bound: str | None
    ) -> StoreLedger:
        return StoreLedger(
            store, workflow_id, node, token=token, destination=destination, host=bound or host
        )

    return {"hash_cache": hashes, "upload_ledger": ledger}
