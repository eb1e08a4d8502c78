"""`rehydrate` on BigQuery: chosen cold files back into history_<t>.

Each file is fetched at its recorded generation (size + MD5 checked), loaded into a scratch
table and compared with its manifest row (row count + checksum); then one transaction inserts
the rows into History and takes the files out of the manifest, so no restore sees them twice
or not at all. Loaded copies and scratch tables go afterwards; with --delete-files the objects
too (a bucket retention policy is respected).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from session_backup.cold.bigquery_engine import open_bigquery_backup
from session_backup.cold.bigquery_manifest import finish_interrupted
from session_backup.cold.bigquery_relation import create_scratch, fetch_checked, load_files
from session_backup.cold.bigquery_sql import FILE_ID_COLUMN, checksum_select, literal
from session_backup.cold.faults import fault
from session_backup.cold.names import COLD_MANIFEST
from session_backup.cold.progress import Progress
from session_backup.cold.tier_bigquery import CHECKSUM_ENGINE
from session_backup.config import Settings
from session_backup.errors import BackupError


def rehydrate_table(
    settings: Settings,
    stores,
    table: str,
    items: list[dict],
    delete_files: bool,
    fail_after,
    progress: Progress,
) -> dict:
    hot = f"history_{table}"
    with (
        open_bigquery_backup(settings) as backup,
        tempfile.TemporaryDirectory(prefix="cold-rehydrate-") as folder,
    ):
        fields = backup.schema_fields(hot)
        columns = backup.columns(hot)
        scratches = []
        try:
            for item in items:
                paths = fetch_checked(stores(item["cold_root"]), item, Path(folder))
                scratch = f"cold_check_{item['file_id']}"
                create_scratch(backup, scratch, fields)
                scratches.append(scratch)
                load_files(backup, backup.table_id(scratch), paths, fields)
                counted = backup.query(checksum_select(backup.rel(scratch), "cold", columns))[0]
                same_engine = item["checksum_engine"] == CHECKSUM_ENGINE
                if int(counted[0]) != int(item["row_count"]) or (
                    same_engine
                    and (int(counted[1]), int(counted[2]))
                    != (int(item["row_checksum_high"]), int(item["row_checksum_low"]))
                ):
                    raise BackupError(
                        f"Cold file {item['file_uri']} does not hold the rows recorded for it "
                        f"({counted[0]} rows, {item['row_count']} recorded); nothing was rehydrated."
                    )
            fault("rehydrate", "fetch", fail_after)
            listed = ", ".join(f"`{field.name}`" for field in fields)
            state = "retired" if delete_files else "released"
            statements = [
                f"insert into {backup.rel(hot)} ({listed}) select {listed} from {backup.rel(scratch)}"
                for scratch in scratches
            ]
            fault("rehydrate", "insert", fail_after)
            statements += [
                f"update {backup.rel(COLD_MANIFEST)} set state = {literal(state)}, retired_at = current_timestamp(), "
                f"retired_reason = 'rehydrated' where file_id = {literal(item['file_id'])} and state = 'active'"
                for item in items
            ]
            fault("rehydrate", "manifest", fail_after)
            # One transaction: the rows are in History exactly when their files leave the manifest.
            backup.run_transaction(statements)
            progress.advance(len(items))
            fault("rehydrate", "commit", fail_after)
        finally:
            for scratch in scratches:
                backup.drop(scratch)
        loaded = f"cold_loaded_{table}"
        if backup.exists(loaded):
            ids = ", ".join(literal(item["file_id"]) for item in items)
            backup.execute(f"delete from {backup.rel(loaded)} where {FILE_ID_COLUMN} in ({ids})")
        outcome = {"deleted": [], "kept_under_retention": []}
        if delete_files:
            report = finish_interrupted(backup, stores)
            outcome["deleted"] = report["deleted"]
            outcome["kept_under_retention"] = report["kept_under_retention"]
        fault("rehydrate", "delete", fail_after)
    return outcome
