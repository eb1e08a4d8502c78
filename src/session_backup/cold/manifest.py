"""The cold manifest: which files are active, and finishing what an interrupted run left."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from session_backup.cold.dates import naive, parse_now
from session_backup.cold.names import COLD_MANIFEST
from session_backup.cold.paths import relative_path
from session_backup.cold.storage import ColdStore, RetentionBlocked, open_store
from session_backup.config import Settings

if TYPE_CHECKING:
    from session_backup.cold.duckdb_engine import DuckDBBackup
    from session_backup.cold.plan import Unit


def active_files(backup: DuckDBBackup, table: str) -> list[dict]:
    if not backup.exists(COLD_MANIFEST):
        return []
    rows = backup.query(
        f"select file_id, read_path, file_uri, cold_root, relative_path, generation, bytes, content_sha256, "
        f"scope, closed_month, row_count, min_valid_from_seq, max_valid_to_seq, storage_class, "
        f"row_checksum_low, row_checksum_high, checksum_engine "
        f"from {backup.rel(COLD_MANIFEST)} where table_name = $table and state = 'active' "
        f"order by scope, closed_month, part",
        {"table": table},
    )
    keys = (
        "file_id",
        "read_path",
        "file_uri",
        "cold_root",
        "relative_path",
        "generation",
        "bytes",
        "content_sha256",
        "scope",
        "closed_month",
        "row_count",
        "min_valid_from_seq",
        "max_valid_to_seq",
        "storage_class",
        "row_checksum_low",
        "row_checksum_high",
        "checksum_engine",
    )
    return [dict(zip(keys, row)) for row in rows]


def store_lookup(settings: Settings) -> Callable[[str], ColdStore]:
    cache: dict[str, ColdStore] = {}

    def get(root: str) -> ColdStore:
        if root not in cache:
            cache[root] = open_store(settings, root)
        return cache[root]

    return get


def finish_interrupted(backup: DuckDBBackup, settings: Settings, stores) -> dict:
    """Undo `writing` files of an interrupted run and delete `retired` objects whose deletion
    an earlier run did not finish. Objects under retention stay listed until they may go
    (retention is wall-clock time, whatever --now says)."""
    now = parse_now(None)
    report = {"undone": [], "deleted": [], "kept_under_retention": []}
    if not backup.exists(COLD_MANIFEST):
        return report
    rows = backup.query(
        f"select file_id, state, cold_root, relative_path, file_uri, generation, delete_after "
        f"from {backup.rel(COLD_MANIFEST)} where state in ('writing', 'retired') order by created_at"
    )
    for file_id, state, root, relative, uri, generation, delete_after in rows:
        if state == "retired" and delete_after is not None and delete_after > now:
            report["kept_under_retention"].append({"uri": uri, "until": str(delete_after)})
            continue
        store = stores(root)
        try:
            store.delete(relative, None if state == "writing" else generation)
        except RetentionBlocked as blocked:
            backup.execute(
                f"update {backup.rel(COLD_MANIFEST)} set state = 'retired', retired_at = coalesce(retired_at, now()), "
                f"retired_reason = coalesce(retired_reason, 'interrupted write'), delete_after = $until "
                f"where file_id = $id",
                {"id": file_id, "until": naive(blocked.until)},
            )
            report["kept_under_retention"].append(
                {"uri": uri, "until": str(blocked.until), "reason": blocked.reason}
            )
            continue
        backup.execute(
            f"delete from {backup.rel(COLD_MANIFEST)} where file_id = $id", {"id": file_id}
        )
        if store.kind == "gcs":
            store.read_path(relative).unlink(
                missing_ok=True
            )  # its download cache copy goes with it
        report["undone" if state == "writing" else "deleted"].append(uri)
    # Staging files are never needed across runs: whatever an interrupted run left goes.
    clean_staging(stores(settings.cold_root))
    return report


def clean_staging(store: ColdStore) -> None:
    staging = store.staging_dir()
    for path in staging.glob("*"):
        if path.is_file():
            path.unlink(missing_ok=True)


PART = re.compile(r"part-(\d+)(?:-\d{3})?\.parquet$")  # -nnn: one object of a split export


def next_part(backup: DuckDBBackup, store: ColdStore, unit: Unit, taken: set[tuple]) -> int:
    rows = backup.query(
        f"select coalesce(max(part), 0) from {backup.rel(COLD_MANIFEST)} "
        f"where table_name = $table and scope = $scope and closed_month = $month",
        {"table": unit.table, "scope": unit.scope, "month": unit.closed_month},
    )
    highest = int(rows[0][0])
    folder = relative_path(unit.table, unit.scope, unit.closed_month, 1).rsplit("/", 1)[0] + "/"
    for name in store.list_relative(folder):
        match = PART.search(name)
        if match:
            highest = max(highest, int(match.group(1)))
    part = highest + 1
    while (unit.table, unit.scope, unit.closed_month, part) in taken:
        part += 1
    taken.add((unit.table, unit.scope, unit.closed_month, part))
    return part
