"""The cold manifest on BigQuery: finishing what an interrupted run left (`writing` rows are
undone, `retired` ones deleted), with the objects, loaded rows and scratch tables they own."""

from __future__ import annotations

import re

from session_backup.cold.bigquery_engine import BigQueryBackup
from session_backup.cold.bigquery_relation import file_objects
from session_backup.cold.bigquery_sql import FILE_ID_COLUMN, literal
from session_backup.cold.bigquery_staging import ExportStaging
from session_backup.cold.dates import naive, parse_now
from session_backup.cold.names import COLD_MANIFEST
from session_backup.cold.storage import RetentionBlocked


def finish_interrupted(backup: BigQueryBackup, stores) -> dict:
    """Objects under retention stay listed until they may go (wall-clock time)."""
    now = parse_now(None)
    report = {"undone": [], "deleted": [], "kept_under_retention": []}
    if not backup.exists(COLD_MANIFEST):
        return report
    keys = (
        "file_id",
        "state",
        "table_name",
        "cold_root",
        "relative_path",
        "file_uri",
        "generation",
        "bytes",
        "content_md5",
        "objects",
        "delete_after",
    )
    rows = backup.query(
        f"select {', '.join(keys)} from {backup.rel(COLD_MANIFEST)} "
        f"where state in ('writing', 'retired') order by created_at"
    )
    for row in rows:
        item = dict(zip(keys, row))
        if (
            item["state"] == "retired"
            and item["delete_after"] is not None
            and naive(item["delete_after"]) > now
        ):
            report["kept_under_retention"].append(
                {"uri": item["file_uri"], "until": str(item["delete_after"])}
            )
            continue
        store = stores(item["cold_root"])
        try:
            if item["state"] == "writing":
                ExportStaging(store).delete(item["file_id"])
                backup.drop(f"cold_check_{item['file_id']}")
                # The names were reserved by this row: whatever sits there is this run's.
                for relative in _reserved_names(store, item["relative_path"]):
                    store.delete(relative, None)
            else:
                for entry in file_objects(item):
                    store.delete(entry["relative_path"], entry["generation"])
        except RetentionBlocked as blocked:
            backup.execute(
                f"update {backup.rel(COLD_MANIFEST)} set state = 'retired', "
                f"retired_at = coalesce(retired_at, current_timestamp()), "
                f"retired_reason = coalesce(retired_reason, 'interrupted write'), delete_after = $until "
                f"where file_id = $id",
                {"id": item["file_id"], "until": naive(blocked.until)},
            )
            report["kept_under_retention"].append(
                {"uri": item["file_uri"], "until": str(blocked.until), "reason": blocked.reason}
            )
            continue
        statements = []
        loaded = f"cold_loaded_{item['table_name']}"
        if backup.exists(loaded):
            statements.append(
                f"delete from {backup.rel(loaded)} where {FILE_ID_COLUMN} = {literal(item['file_id'])}"
            )
        statements.append(
            f"delete from {backup.rel(COLD_MANIFEST)} where file_id = {literal(item['file_id'])}"
        )
        backup.run_transaction(statements)
        report["undone" if item["state"] == "writing" else "deleted"].append(item["file_uri"])
    return report


def _reserved_names(store, relative: str) -> list[str]:
    """part-<n>.parquet and the part-<n>-<k>.parquet objects of a split export."""
    folder, _, name = relative.rpartition("/")
    pattern = re.compile(re.escape(name[: -len(".parquet")]) + r"(-\d{3})?\.parquet$")
    return [
        found
        for found in store.list_relative(folder + "/")
        if pattern.match(found.rpartition("/")[2])
    ]
