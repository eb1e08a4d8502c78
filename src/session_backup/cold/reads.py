"""Before any restore or verify: the cold files a table reads are present and intact."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from session_backup.cold.duckdb_engine import DuckDBBackup, open_backup
from session_backup.cold.manifest import active_files, store_lookup
from session_backup.cold.names import COLD_MANIFEST, PRUNED_SESSIONS
from session_backup.cold.storage import file_sha256
from session_backup.cold.view import fingerprint, install_cold_view, view_state
from session_backup.config import Settings
from session_backup.errors import BackupError


def _file_problem(item: dict, path: Path, deep: bool) -> str | None:
    if not path.is_file():
        return "is missing"
    size = path.stat().st_size
    if item["bytes"] is not None and size != int(item["bytes"]):
        return f"has {size} bytes, {item['bytes']} recorded (truncated or replaced)"
    if deep and item["content_sha256"] and file_sha256(path) != item["content_sha256"]:
        return "does not match its recorded SHA-256 (corrupted)"
    return None


def ensure_local(settings: Settings, stores, item: dict, deep: bool, fetched: list[str]) -> Path:
    """The local file DuckDB reads for a manifest row, downloaded into the cache for gs://
    (checked against its SHA-256); a clear error naming the file otherwise."""
    store = stores(item["cold_root"])
    path = Path(store.read_path(item["relative_path"]))
    where = f"table {item.get('table_name', '?')}, scope {item['scope']!r}, {item['closed_month']}"
    problem = _file_problem(item, path, deep)
    if problem is None:
        return path
    if store.kind == "gcs":
        store.fetch(item["relative_path"], item["generation"], path)
        fetched.append(item["file_uri"])
        problem = _file_problem(item, path, True)
        if problem is None:
            return path
        path.unlink(missing_ok=True)
        raise BackupError(
            f"Cold file {item['file_uri']} ({where}) downloaded from GCS {problem}; "
            "the cache copy was removed. Nothing was restored."
        )
    raise BackupError(
        f"Cold file {item['file_uri']} ({where}, {item['row_count']} rows) {problem}. Restores that need it "
        "cannot be exact; nothing was restored. Put the file back (from a copy of the cold root) — "
        "see docs/cold-storage.md#missing-or-corrupted-files."
    )


def refuse_pruned(backup, session_id: str | None) -> None:
    """A pruned session is refused with when and why (either engine's backup)."""
    if session_id is None or not backup.exists(PRUNED_SESSIONS):
        return
    pruned = backup.query(
        f"select pruned_at, retention, window_start from {backup.rel(PRUNED_SESSIONS)} where session_id = $id",
        {"id": session_id},
    )
    if pruned:
        pruned_at, retention, window_start = pruned[0]
        raise BackupError(
            f"Session {session_id!r} was pruned on {str(pruned_at)[:19]} by retention (keep {retention}: it "
            f"started before the window starting {str(window_start)[:19]}); it can no longer be restored."
        )


def active_totals(backup) -> dict:
    """`tier --check`'s totals: active cold files and their bytes (either engine's backup)."""
    if not backup.exists(COLD_MANIFEST):
        return {"active_files": 0, "cold_bytes": 0}
    count, size = backup.query(
        f"select count(*), coalesce(sum(bytes), 0) from {backup.rel(COLD_MANIFEST)} "
        "where state = 'active'"
    )[0]
    return {"active_files": int(count), "cold_bytes": int(size)}


def prepare_cold_reads(
    settings: Settings,
    session_id: str | None = None,
    tables: Iterable[str] | None = None,
    deep: bool = True,
) -> dict:
    """Called by `restore` and `verify` before they read: a pruned session is refused clearly;
    every active cold file of the tables read (all when none are given) is present with its
    recorded size (gs:// files are fetched into the local cache) — a table's cold view reads
    all its files, so one missing file stops every restore of that table; the files the
    session may need match their SHA-256 (all files without a session); and the cold views
    point at exactly the manifest's files."""
    only = set(tables or ())
    report = {"checked": 0, "fetched": [], "views_refreshed": []}
    if settings.target == "bigquery":
        from session_backup.cold import reads_bigquery

        return reads_bigquery.prepare_cold_reads(settings, session_id, tables, deep)
    if not Path(settings.backup_db).exists():
        return report
    stores = store_lookup(settings)
    with open_backup(settings, read_only=True) as warehouse:
        backup = DuckDBBackup(warehouse)
        refuse_pruned(backup, session_id)
        if not backup.exists(COLD_MANIFEST):
            return report
        needed_scope = None
        if session_id is not None:
            rows = backup.query(
                f"select scope, session_seq from {backup.rel('backup_sessions')} "
                f"where session_id = $id",
                {"id": session_id},
            )
            if not rows:
                return report  # unknown session: restore/verify say so themselves
            needed_scope = rows[0]
        cold_tables = [
            row[0]
            for row in backup.query(
                f"select distinct table_name from {backup.rel(COLD_MANIFEST)} where state = 'active' order by 1"
            )
        ]
        cold_tables = [table for table in cold_tables if not only or table in only]
        files = {table: active_files(backup, table) for table in cold_tables}
        states = {table: view_state(backup, table) for table in cold_tables}
    refresh = []
    for table, items in files.items():
        for item in items:
            item["table_name"] = table
            needed = needed_scope is None or (
                item["scope"] == needed_scope[0]
                and item["min_valid_from_seq"] <= needed_scope[1] < item["max_valid_to_seq"]
            )
            path = ensure_local(settings, stores, item, deep and needed, report["fetched"])
            report["checked"] += 1
            if str(path) != item["read_path"]:
                item["read_path"] = str(path)
                item["moved"] = True
        state = states[table]
        wanted = fingerprint(items)
        if (
            state is None
            or state[0] != "files"
            or state[1] != wanted
            or any(i.get("moved") for i in items)
        ):
            refresh.append(table)
    if refresh:
        with open_backup(settings) as warehouse:
            backup = DuckDBBackup(warehouse)
            with backup.transaction():
                for table in refresh:
                    for item in files[table]:
                        if item.get("moved"):
                            backup.execute(
                                f"update {backup.rel(COLD_MANIFEST)} set read_path = $path "
                                f"where file_id = $id",
                                {"path": item["read_path"], "id": item["file_id"]},
                            )
                    install_cold_view(backup, table)
        report["views_refreshed"] = refresh
    return report


def check_cold(settings: Settings) -> dict:
    """`tier --check`: every cold file checked in full (size and SHA-256), gs:// files fetched
    into the cache, views re-pointed; moves nothing. On BigQuery: every object's generation,
    size and MD5 (metadata, no download)."""
    if settings.target == "bigquery":
        from session_backup.cold import reads_bigquery

        return reads_bigquery.check_cold(settings)
    report = prepare_cold_reads(settings, None, deep=True)  # every file of every table
    with open_backup(settings, read_only=True) as warehouse:
        report.update(active_totals(DuckDBBackup(warehouse)))
    return report
