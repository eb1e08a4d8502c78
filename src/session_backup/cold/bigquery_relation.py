"""`cold_history_<t>` on BigQuery: creating it, pointing the restore functions at it, and
loading verified cold files into it (`load` form). Forms: bigquery_sql.py.

The form is Settings.cold_reads (SESSION_BACKUP_BQ_COLD_READS): `external` (default,
production: GCS read in place through an external table) or `load` (files loaded into `cold_loaded_<t>`; where
external tables are not available, e.g. the emulator).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from session_backup.cold.bigquery_engine import BigQueryBackup, open_bigquery_backup
from session_backup.cold.bigquery_sql import (
    FILE_ID_COLUMN,
    empty_view_sql,
    external_table_sql,
    external_view_sql,
    literal,
    loaded_view_sql,
)
from session_backup.cold.names import COLD_MANIFEST, COLD_VIEW_STATE
from session_backup.cold.storage import file_md5_base64
from session_backup.config import Settings
from session_backup.errors import BackupError


def read_form(settings: Settings) -> str:
    form = settings.cold_reads
    if form not in ("external", "load"):
        raise BackupError(
            f"SESSION_BACKUP_BQ_COLD_READS={form!r}: expected external (GCS read in place) or load."
        )
    return form


def file_objects(item: dict) -> list[dict]:
    """The GCS objects of one cold file: [{relative_path, uri, bytes, md5, generation}]."""
    if item.get("objects"):
        return json.loads(item["objects"])
    return [
        {
            "relative_path": item["relative_path"],
            "uri": item["file_uri"],
            "bytes": item["bytes"],
            "md5": item.get("content_md5"),
            "generation": item["generation"],
        }
    ]


def active_items(backup: BigQueryBackup, table: str) -> list[dict]:
    if not backup.exists(COLD_MANIFEST):
        return []
    keys = (
        "file_id",
        "file_uri",
        "cold_root",
        "relative_path",
        "generation",
        "bytes",
        "content_md5",
        "scope",
        "closed_month",
        "row_count",
        "min_valid_from_seq",
        "max_valid_to_seq",
        "storage_class",
        "row_checksum_low",
        "row_checksum_high",
        "checksum_engine",
        "objects",
    )
    rows = backup.query(
        f"select {', '.join(keys)} from {backup.rel(COLD_MANIFEST)} "
        f"where table_name = $table and state = 'active' order by scope, closed_month, part",
        {"table": table},
    )
    return [dict(zip(keys, row), table_name=table) for row in rows]


def ensure_loaded_table(backup: BigQueryBackup, table: str) -> set[str]:
    """`cold_loaded_<t>`: History's columns + the file id; columns History gained since are
    added. Returns its column names."""
    from google.cloud import bigquery

    loaded = f"cold_loaded_{table}"
    fields = backup.schema_fields(f"history_{table}")
    if not backup.exists(loaded):
        backup.client.create_table(
            bigquery.Table(
                backup.table_id(loaded),
                schema=fields + [bigquery.SchemaField(FILE_ID_COLUMN, "STRING")],
            ),
            exists_ok=True,
        )
    present = {name for name, _ in backup.columns(loaded)}
    for name, column_type in backup.columns(f"history_{table}"):
        if name not in present:
            backup.execute(
                f"alter table {backup.rel(loaded)} add column if not exists `{name}` {column_type}"
            )
            present.add(name)
    return present


def install_relation(backup: BigQueryBackup, table: str, root_uri: str) -> str:
    """(Re)creates cold_history_<t> in the configured form; returns the kind installed."""
    form = read_form(backup.settings)
    columns = backup.columns(f"history_{table}")
    if form == "load":
        loaded_columns = ensure_loaded_table(backup, table)
        backup.execute(loaded_view_sql(backup, table, columns, loaded_columns))
        return "load"
    if not active_items(backup, table) and not _placed_objects(backup, table):
        backup.execute(
            empty_view_sql(backup, table)
        )  # an external table over no object cannot be queried
        return "empty"
    backup.execute(external_table_sql(backup, table, f"{root_uri.rstrip('/')}/{table}"))
    backup.execute(external_view_sql(backup, table, columns))
    return "external"


def _placed_objects(backup: BigQueryBackup, table: str) -> bool:
    rows = backup.query(
        f"select count(*) from {backup.rel(COLD_MANIFEST)} where table_name = $table "
        f"and state = 'writing' and generation is not null",
        {"table": table},
    )
    return bool(rows and rows[0][0])


def functions_missing_cold(backup: BigQueryBackup, tables: list[str]) -> list[str]:
    """Tables whose restore_<t> function was created before cold_history_<t> existed."""
    from google.api_core.exceptions import NotFound

    missing = []
    for table in tables:
        try:
            routine = backup.client.get_routine(backup.table_id(f"restore_{table}"))
        except NotFound:
            continue  # no function yet: the next dbt build creates it reading cold
        if f"cold_history_{table}" not in (routine.body or ""):
            missing.append(table)
    return missing


def prepare_relations(settings: Settings, tables: list[str]) -> None:
    """Before anything moves: every table has cold_history_<t> and its restore functions read
    it, so a commit that moves rows to cold is visible to restores at once."""
    from session_backup.cold.view import refresh_restore_functions

    with open_bigquery_backup(settings) as backup:
        backup.ensure_tables()
        installed = {
            row[0] for row in backup.query(f"select table_name from {backup.rel(COLD_VIEW_STATE)}")
        }
        for table in tables:
            if table not in installed or not backup.exists(f"cold_history_{table}"):
                kind = install_relation(backup, table, settings.cold_root)
                backup.run_transaction(
                    [
                        f"delete from {backup.rel(COLD_VIEW_STATE)} where table_name = {literal(table)}",
                        (
                            f"insert into {backup.rel(COLD_VIEW_STATE)} values ({literal(table)}, {literal(kind)}, null, "
                            f"current_timestamp())"
                        ),
                    ]
                )
        stale = functions_missing_cold(backup, tables)
    if stale:
        refresh_restore_functions(settings)
        with open_bigquery_backup(settings) as backup:
            still = functions_missing_cold(backup, stale)
        if still:
            raise BackupError(
                f"restore functions of {', '.join(still)} still do not read cold history; "
                "run `dbt run-operation session_backup.create_backup_functions` and retry."
            )


def load_files(backup: BigQueryBackup, table_id: str, paths: list[Path], fields: list) -> None:
    """Appends local Parquet files to a table with History's schema (a load job: no bytes
    scanned are billed)."""
    from google.cloud import bigquery

    config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.PARQUET,
        schema=fields,
        write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
    )
    for path in paths:
        with open(path, "rb") as handle:
            try:
                backup.client.load_table_from_file(handle, table_id, job_config=config).result()
            except Exception as exc:
                raise BackupError(
                    f"Loading cold file {path.name} into {table_id} failed: "
                    f"{str(exc).splitlines()[0][:300]}"
                ) from exc


def create_scratch(backup: BigQueryBackup, name: str, fields: list) -> str:
    from google.cloud import bigquery

    backup.drop(name)
    backup.client.create_table(bigquery.Table(backup.table_id(name), schema=fields))
    return backup.table_id(name)


def fetch_checked(store, item: dict, folder: Path) -> list[Path]:
    """Downloads every object of a cold file at its recorded generation and checks size and
    MD5; a clear error naming the object otherwise."""
    where = f"table {item['table_name']}, scope {item['scope']!r}, {item['closed_month']}"
    paths = []
    for number, entry in enumerate(file_objects(item)):
        path = folder / f"{item['file_id']}-{number}.parquet"
        store.fetch(entry["relative_path"], entry["generation"], path)
        size = path.stat().st_size
        if entry["bytes"] is not None and size != int(entry["bytes"]):
            raise BackupError(
                f"Cold file {entry['uri']} ({where}) has {size} bytes, {entry['bytes']} recorded "
                "(truncated or replaced); nothing was restored."
            )
        if entry.get("md5") and file_md5_base64(path) != entry["md5"]:
            raise BackupError(
                f"Cold file {entry['uri']} ({where}) does not match its recorded MD5 (corrupted); "
                "nothing was restored."
            )
        paths.append(path)
    return paths


def check_objects(store, item: dict) -> None:
    """Metadata only (no download, so no retrieval fee): each object of the file is there at its
    recorded generation, size and MD5."""
    where = f"table {item['table_name']}, scope {item['scope']!r}, {item['closed_month']}, {item['row_count']} rows"
    for entry in file_objects(item):
        found = store.stat(entry["relative_path"])
        if found is None:
            raise BackupError(
                f"Cold file {entry['uri']} ({where}) is missing from GCS. Restores that need it "
                "cannot be exact; nothing was restored (docs/cold-storage.md#missing-or-corrupted-files)."
            )
        if entry["generation"] is not None and found.generation != int(entry["generation"]):
            raise BackupError(
                f"Cold file {entry['uri']} ({where}) was replaced (generation {found.generation}, "
                f"{entry['generation']} recorded); nothing was restored."
            )
        if (entry["bytes"] is not None and found.bytes != int(entry["bytes"])) or (
            entry.get("md5") and found.md5_base64 and found.md5_base64 != entry["md5"]
        ):
            raise BackupError(
                f"Cold file {entry['uri']} ({where}) does not match its recorded size/MD5 "
                "(corrupted); nothing was restored."
            )


def load_missing(backup: BigQueryBackup, store, table: str, items: list[dict]) -> list[str]:
    """`load` form: files whose rows are not (all) in cold_loaded_<t> are fetched, checked and
    loaded again. Returns their URIs."""
    ensure_loaded_table(backup, table)
    loaded = f"cold_loaded_{table}"
    counts = dict(
        backup.query(f"select {FILE_ID_COLUMN}, count(*) from {backup.rel(loaded)} group by 1")
    )
    fetched = []
    fields = backup.schema_fields(f"history_{table}")
    names = [field.name for field in fields]
    for item in items:
        if int(counts.get(item["file_id"], 0)) == int(item["row_count"]):
            continue
        with tempfile.TemporaryDirectory(prefix="cold-load-") as folder:
            paths = fetch_checked(store, item, Path(folder))
            scratch = f"cold_check_{item['file_id']}"
            create_scratch(backup, scratch, fields)
            try:
                load_files(backup, backup.table_id(scratch), paths, fields)
                listed = ", ".join(f"`{name}`" for name in names)
                backup.run_transaction(
                    [
                        f"delete from {backup.rel(loaded)} where {FILE_ID_COLUMN} = {literal(item['file_id'])}",
                        (
                            f"insert into {backup.rel(loaded)} ({listed}, {FILE_ID_COLUMN}) "
                            f"select {listed}, {literal(item['file_id'])} from {backup.rel(scratch)}"
                        ),
                    ]
                )
            finally:
                backup.drop(scratch)
        fetched.append(item["file_uri"])
    return fetched
