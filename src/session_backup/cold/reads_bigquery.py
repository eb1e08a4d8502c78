"""Before a restore or verify on BigQuery: a pruned session is refused, every active cold
object of the tables read is where the manifest says (generation, size, MD5: metadata only),
and in the `load` form every active file's rows are loaded (fetched and checked if not)."""

from __future__ import annotations

from collections.abc import Iterable

from session_backup.cold.bigquery_engine import open_bigquery_backup
from session_backup.cold.bigquery_relation import (
    active_items,
    check_objects,
    load_missing,
    prepare_relations,
    read_form,
)
from session_backup.cold.manifest import store_lookup
from session_backup.cold.names import COLD_MANIFEST, PRUNED_SESSIONS
from session_backup.config import Settings
from session_backup.errors import BackupError


def prepare_cold_reads(
    settings: Settings,
    session_id: str | None = None,
    tables: Iterable[str] | None = None,
    deep: bool = True,
) -> dict:
    only = set(tables or ())
    report = {"checked": 0, "fetched": [], "views_refreshed": []}
    stores = store_lookup(settings)
    with open_bigquery_backup(settings) as backup:
        if session_id is not None and backup.exists(PRUNED_SESSIONS):
            pruned = backup.query(
                f"select pruned_at, retention, window_start from {backup.rel(PRUNED_SESSIONS)} "
                f"where session_id = $id",
                {"id": session_id},
            )
            if pruned:
                pruned_at, retention, window_start = pruned[0]
                raise BackupError(
                    f"Session {session_id!r} was pruned on {str(pruned_at)[:19]} by retention (keep {retention}: it "
                    f"started before the window starting {str(window_start)[:19]}); it can no longer be restored."
                )
        if not backup.exists(COLD_MANIFEST):
            return report
        cold_tables = [
            row[0]
            for row in backup.query(
                f"select distinct table_name from {backup.rel(COLD_MANIFEST)} where state = 'active' order by 1"
            )
        ]
        cold_tables = [table for table in cold_tables if not only or table in only]
        items = {table: active_items(backup, table) for table in cold_tables}
    if not cold_tables:
        return report
    prepare_relations(settings, cold_tables)  # a cold relation dbt or a person dropped comes back
    with open_bigquery_backup(settings) as backup:
        for table, table_items in items.items():
            for item in table_items:
                check_objects(stores(item["cold_root"]), item)
                report["checked"] += 1
            if read_form(settings) == "load" and table_items:
                report["fetched"] += load_missing(
                    backup, stores(table_items[0]["cold_root"]), table, table_items
                )
    return report


def check_cold(settings: Settings) -> dict:
    report = prepare_cold_reads(settings, None)
    with open_bigquery_backup(settings) as backup:
        report["active_files"] = 0
        report["cold_bytes"] = 0
        if backup.exists(COLD_MANIFEST):
            count, size = backup.query(
                f"select count(*), coalesce(sum(bytes), 0) from {backup.rel(COLD_MANIFEST)} "
                "where state = 'active'"
            )[0]
            report["active_files"], report["cold_bytes"] = int(count), int(size)
    return report
