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
from session_backup.cold.names import COLD_MANIFEST
from session_backup.cold.reads import active_totals, refuse_pruned
from session_backup.config import Settings


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
        refuse_pruned(backup, session_id)
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
        report.update(active_totals(backup))
    return report
