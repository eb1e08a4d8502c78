"""The BigQuery implementation of the cold engine: whole closed-date partitions of
`history_<t>` to zstd Parquet under gs://bucket/prefix, in the layout of the DuckDB backup.

Per table, each step safe to interrupt and to repeat (tier.py plans, locks and reports):
  journal   manifest rows `writing`, each with its reserved part name;
  write     EXPORT DATA of the unit's rows to `<root>/.staging/<file_id>/part-*.parquet`;
  verify    the exported objects read back (downloaded), loaded into a scratch table and
            compared with the hot rows: row count + whole-row checksum;
  upload    the verified bytes written under their final names (`if_generation_match=0`,
            the chosen storage class), loaded into cold_loaded_<t> in the `load` form;
            staging objects and scratch tables deleted;
  manifest + delete   one transaction: manifest rows `active`, and a DELETE of the unit's
            rows whose predicate covers whole backup_closed_date days (only closed partitions
            are touched).
A re-run first undoes `writing` rows (staging and final objects, loaded rows, scratch tables).
"""

from __future__ import annotations

import json
import shutil
import uuid
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from session_backup.cold.bigquery_engine import BigQueryBackup, open_bigquery_backup
from session_backup.cold.bigquery_manifest import finish_interrupted
from session_backup.cold.bigquery_relation import (
    FILE_ID_COLUMN,
    active_items,
    create_scratch,
    ensure_loaded_table,
    install_relation,
    load_files,
    prepare_relations,
    read_form,
)
from session_backup.cold.bigquery_sql import (
    checksum_select,
    export_sql,
    inline,
    literal,
    logical_bytes_expr,
)
from session_backup.cold.bigquery_staging import ExportStaging
from session_backup.cold.faults import fault
from session_backup.cold.manifest import next_part
from session_backup.cold.names import COLD_MANIFEST
from session_backup.cold.paths import relative_path
from session_backup.cold.plan import Unit, cold_totals, hot_totals, plan_units, validity_ranges
from session_backup.cold.progress import Progress
from session_backup.cold.storage import ColdStore, ObjectExists, file_sha256
from session_backup.config import Settings
from session_backup.errors import BackupError

CHECKSUM_ENGINE = "bigquery-farm_fingerprint-json-v1"


class BigQueryColdEngine:
    """Cold tiering on the BigQuery backup, with the cold root on GCS."""

    kind = "bigquery"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @contextmanager
    def open(self, read_only: bool = False):
        with open_bigquery_backup(self.settings) as backup:
            yield backup

    def check_paths(self, store: ColdStore) -> None:
        if store.kind != "gcs":
            raise BackupError(
                f"On BigQuery the cold root must be gs://bucket/prefix (EXPORT DATA writes to GCS), "
                f"not {store.root_uri}: set SESSION_BACKUP_COLD_ROOT."
            )

    def plan_units(
        self, backup: BigQueryBackup, table: str, cutoff: date, long_term_before: date
    ) -> list[Unit]:
        return plan_units(
            backup,
            table,
            cutoff,
            long_term_before,
            logical_bytes_expr,
            "format_date('%Y-%m', hot.backup_closed_date)",
        )

    def hot_totals(self, backup: BigQueryBackup, tables: list[str], long_term_before: date) -> dict:
        return hot_totals(backup, tables, long_term_before, logical_bytes_expr)

    cold_totals = staticmethod(cold_totals)

    def finish_interrupted(self, backup: BigQueryBackup, stores) -> dict:
        return finish_interrupted(backup, stores)

    def prepare_views(self, tables: list[str]) -> None:
        prepare_relations(self.settings, tables)

    def tier_table(
        self, store, table, units, storage_class, moment, cutoff, fail_after, progress
    ) -> None:
        _tier_table(self.settings, store, table, units, storage_class, cutoff, fail_after, progress)

    def active_files(self, backup, table: str) -> list[dict]:
        return active_items(backup, table)

    def rehydrate_table(self, stores, table, items, delete_files, fail_after, progress) -> dict:
        from session_backup.cold.rehydrate_bigquery import rehydrate_table

        return rehydrate_table(
            self.settings, stores, table, items, delete_files, fail_after, progress
        )

    def abandon(self, stores, store) -> dict:
        with self.open() as backup:
            report = finish_interrupted(backup, stores)
        self.finish(store)
        return report

    def finish(self, store) -> None:
        staging = store.staging_dir()
        for path in staging.glob("*"):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def _tier_table(
    settings: Settings,
    store,
    table: str,
    units: list[Unit],
    storage_class: str,
    cutoff: date,
    fail_after,
    progress: Progress,
) -> None:
    hot = f"history_{table}"
    staging = ExportStaging(store)
    local = store.staging_dir()
    with open_bigquery_backup(settings) as backup:
        columns = backup.columns(hot)
        fields = backup.schema_fields(hot)
        # 1. Journal: the files about to be created, so an interrupted run can undo them.
        taken: set[tuple] = set()
        statements = []
        for unit in units:
            unit.file_id = uuid.uuid4().hex
            unit.part = next_part(backup, store, unit, taken)
            unit.relative_path = relative_path(table, unit.scope, unit.closed_month, unit.part)
            unit.file_uri = store.uri_for(unit.relative_path)
            unit.read_path = staging.uri_pattern(unit.file_id)
            statements.append(
                f"insert into {backup.rel(COLD_MANIFEST)} (file_id, state, table_name, scope, closed_month, part, "
                f"cold_root, relative_path, file_uri, read_path, storage_class, cutoff_date, created_at) values ("
                + ", ".join(
                    literal(value)
                    for value in (
                        unit.file_id,
                        "writing",
                        table,
                        unit.scope,
                        unit.closed_month,
                        unit.part,
                        store.root_uri,
                        unit.relative_path,
                        unit.file_uri,
                        unit.read_path,
                        storage_class,
                        cutoff,
                    )
                )
                + ", current_timestamp())"
            )
        backup.run_transaction(statements)
        fault("tier", "journal", fail_after, table)

        # 2. EXPORT DATA of each unit to its own fresh staging prefix.
        for unit in units:
            where, params = unit.predicate()
            backup.execute(
                export_sql(backup, table, inline(where, params), staging.uri_pattern(unit.file_id))
            )
            progress.advance()
        fault("tier", "write", fail_after, table)

        # 3. Read back and verify before anything is committed.
        for unit in units:
            verify_export(backup, staging, local, hot, columns, fields, unit)
            progress.advance()
        fault("tier", "verify", fail_after, table)

        # 4. Place the verified bytes under their final names; never overwrite.
        form = read_form(settings)
        if form == "load":
            ensure_loaded_table(backup, table)
        for unit in units:
            place(backup, store, staging, table, unit, storage_class, fields, form)
            progress.advance()
        if form == "external":
            install_relation(
                backup, table, store.root_uri
            )  # the external table now has objects to read
        fault("tier", "upload", fail_after, table)

        # 5. One transaction: manifest rows active, hot rows gone. Nothing of it is visible
        #    before COMMIT, so an interruption at either step leaves the state of step 4.
        fault("tier", "manifest", fail_after, table)
        fault("tier", "delete", fail_after, table)
        statements = [_activate_sql(backup, unit) for unit in units]
        predicates = []
        for unit in units:
            where, params = unit.predicate()
            predicates.append(f"({inline(where, params)})")
        statements.append(f"delete from {backup.rel(hot)} as hot where {' or '.join(predicates)}")
        backup.run_transaction(statements)
        fault("tier", "commit", fail_after, table)
        for unit in units:
            backup.drop(f"cold_check_{unit.file_id}")


def verify_export(
    backup: BigQueryBackup,
    staging: ExportStaging,
    local: Path,
    hot: str,
    columns,
    fields,
    unit: Unit,
    source: str | None = None,
    where: str | None = None,
    params: dict | None = None,
) -> None:
    """Reads the unit's exported objects back into cold_check_<file_id> and compares them with
    their source rows (History by default: `source`/`where` name another, e.g. a cold file
    being rewritten)."""
    names = staging.list(unit.file_id)
    if not names:
        raise BackupError(
            f"EXPORT DATA wrote no object under {staging.uri_pattern(unit.file_id)} for "
            f"{hot} ({unit.scope}, {unit.closed_month}); nothing was moved."
        )
    folder = local / unit.file_id
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    paths = []
    for number, name in enumerate(names):
        path = folder / f"{number:05d}.parquet"
        staging.download(name, path)
        paths.append(path)
    scratch = f"cold_check_{unit.file_id}"
    create_scratch(backup, scratch, fields)
    load_files(backup, backup.table_id(scratch), paths, fields)
    if source is None:
        source = backup.rel(hot)
        where, params = unit.predicate()
    expected = backup.query(checksum_select(source, "hot", columns, where or "true"), params or {})[
        0
    ]
    actual = backup.query(checksum_select(backup.rel(scratch), "cold", columns))[0]
    if tuple(expected) != tuple(actual) or int(actual[0]) != unit.row_count:
        raise BackupError(
            f"The Parquet export of {hot} ({unit.scope}, {unit.closed_month}) does not read back identical to "
            f"the hot rows (rows/checksum {tuple(expected)} vs {tuple(actual)}); nothing was moved, that table "
            "stays hot."
        )
    ranges = validity_ranges(backup, backup.rel(scratch))
    unit.staging = folder
    unit.stats.update(
        {
            "row_count": int(actual[0]),
            "high": int(actual[1]),
            "low": int(actual[2]),
            "paths": paths,
            "bytes": sum(path.stat().st_size for path in paths),
            "sha256": file_sha256(paths[0]),
            **ranges,
        }
    )


def place(
    backup: BigQueryBackup,
    store,
    staging: ExportStaging,
    table: str,
    unit: Unit,
    storage_class: str,
    fields,
    form: str,
) -> None:
    objects = []
    for number, path in enumerate(unit.stats["paths"]):
        relative = (
            unit.relative_path
            if number == 0
            else unit.relative_path.replace(".parquet", f"-{number:03d}.parquet")
        )
        try:
            stored = store.put(path, relative, storage_class)
        except ObjectExists as exc:
            raise BackupError(
                f"{exc} An unrecorded object sits where tiering writes; nothing was moved."
            ) from exc
        objects.append(
            {
                "relative_path": relative,
                "uri": stored.uri,
                "bytes": stored.bytes,
                "md5": stored.md5_base64,
                "generation": stored.generation,
            }
        )
        if number == 0:
            # Recorded at once: a re-run deletes exactly this generation if the run stops here.
            backup.execute(
                f"update {backup.rel(COLD_MANIFEST)} set generation = $generation "
                f"where file_id = $id and state = 'writing'",
                {"generation": stored.generation, "id": unit.file_id},
            )
    unit.stats["objects"] = objects
    unit.stats["storage_class"] = storage_class
    if form == "load":
        scratch = backup.rel(f"cold_check_{unit.file_id}")
        listed = ", ".join(f"`{field.name}`" for field in fields)
        backup.execute(
            f"insert into {backup.rel('cold_loaded_' + table)} ({listed}, {FILE_ID_COLUMN}) "
            f"select {listed}, {literal(unit.file_id)} from {scratch}"
        )
    staging.delete(unit.file_id)
    shutil.rmtree(unit.staging, ignore_errors=True)


def _activate_sql(backup: BigQueryBackup, unit: Unit) -> str:
    stats = unit.stats
    objects = stats["objects"]
    values = {
        "row_count": unit.row_count,
        "bytes": stats["bytes"],
        "logical_bytes": unit.logical_bytes,
        "content_sha256": stats["sha256"],
        "content_md5": objects[0]["md5"],
        "generation": objects[0]["generation"],
        "storage_class": stats["storage_class"],
        "row_checksum_low": stats["low"],
        "row_checksum_high": stats["high"],
        "checksum_engine": CHECKSUM_ENGINE,
        "min_closed_date": stats["min_closed"],
        "max_closed_date": stats["max_closed"],
        "min_valid_from_seq": stats["min_from"],
        "max_valid_from_seq": stats["max_from"],
        "min_valid_to_seq": stats["min_to"],
        "max_valid_to_seq": stats["max_to"],
        "objects": json.dumps(objects) if len(objects) > 1 else None,
    }
    assignments = ", ".join(f"{name} = {literal(value)}" for name, value in values.items())
    return (
        f"update {backup.rel(COLD_MANIFEST)} set state = 'active', {assignments}, "
        f"committed_at = current_timestamp() where file_id = {literal(unit.file_id)} and state = 'writing'"
    )
