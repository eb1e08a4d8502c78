"""The DuckDB implementation of the cold engine: tier one table's units, in the write order of
tier.py (journal, write to staging, verify, place, one commit transaction)."""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

from session_backup.cold.duckdb_engine import DuckDBBackup, duckdb_string, engine_label, open_backup
from session_backup.cold.duckdb_sql import (
    check_path_literal,
    checksum_select,
    described,
    logical_bytes_expr,
    parquet_text_columns,
    write_projection,
)
from session_backup.cold.faults import fault
from session_backup.cold.manifest import active_files, clean_staging, finish_interrupted, next_part
from session_backup.cold.names import COLD_MANIFEST
from session_backup.cold.paths import relative_path
from session_backup.cold.plan import Unit, cold_totals, hot_totals, plan_units, validity_ranges
from session_backup.cold.progress import Progress
from session_backup.cold.storage import ColdStore, ObjectExists, cache_dir_for, file_sha256
from session_backup.cold.view import install_cold_view, prepare_views
from session_backup.config import Settings
from session_backup.errors import BackupError


class DuckDBColdEngine:
    """Cold tiering on the DuckDB backup: Parquet written and checked by DuckDB itself."""

    kind = "duckdb"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @contextmanager
    def open(self, read_only: bool = False):
        with open_backup(self.settings, read_only=read_only) as warehouse:
            yield DuckDBBackup(warehouse)

    def check_paths(self, store: ColdStore) -> None:
        # DuckDB would expand wildcards in the paths it reads.
        check_path_literal(
            store.root_uri if store.kind == "local" else str(cache_dir_for(self.settings))
        )

    def plan_units(self, backup, table: str, cutoff, long_term_before) -> list[Unit]:
        return plan_units(
            backup,
            table,
            cutoff,
            long_term_before,
            logical_bytes_expr,
            "strftime(hot.backup_closed_date, '%Y-%m')",
        )

    def hot_totals(self, backup, tables: list[str], long_term_before) -> dict:
        return hot_totals(backup, tables, long_term_before, logical_bytes_expr)

    cold_totals = staticmethod(cold_totals)

    def finish_interrupted(self, backup, stores) -> dict:
        return finish_interrupted(backup, self.settings, stores)

    def prepare_views(self, tables: list[str]) -> None:
        prepare_views(self.settings, tables)

    def tier_table(
        self, store, table, units, storage_class, moment, cutoff, fail_after, progress
    ) -> None:
        _tier_table(
            self.settings,
            store,
            store.root_uri,
            table,
            units,
            storage_class,
            moment,
            cutoff,
            fail_after,
            progress,
        )

    def active_files(self, backup, table: str) -> list[dict]:
        return active_files(backup, table)

    def rehydrate_table(self, stores, table, items, delete_files, fail_after, progress) -> dict:
        from session_backup.cold.rehydrate import rehydrate_table

        return rehydrate_table(
            self.settings, stores, table, items, delete_files, fail_after, progress
        )

    def abandon(self, stores, store) -> dict:
        """After a table failed: undo its journaled files and empty the staging folder."""
        with self.open() as backup:
            report = finish_interrupted(backup, self.settings, stores)
        clean_staging(store)
        return report

    def finish(self, store) -> None:
        clean_staging(store)


def _tier_table(
    settings,
    store: ColdStore,
    root_key: str,
    table: str,
    units: list[Unit],
    storage_class: str,
    moment: datetime,
    cutoff: date,
    fail_after,
    progress: Progress,
) -> None:
    hot = f"history_{table}"
    staging_dir = store.staging_dir()
    with open_backup(settings) as warehouse:
        backup = DuckDBBackup(warehouse)
        columns = backup.columns(hot)
        text_columns = parquet_text_columns(backup, hot, columns, staging_dir)
        taken: set[tuple] = set()
        # 1. Journal: the files about to be created, so an interrupted run can undo them.
        with backup.transaction():
            for unit in units:
                unit.file_id = uuid.uuid4().hex
                unit.part = next_part(backup, store, unit, taken)
                unit.relative_path = relative_path(table, unit.scope, unit.closed_month, unit.part)
                unit.file_uri = store.uri_for(unit.relative_path)
                unit.read_path = str(store.read_path(unit.relative_path))
                backup.execute(
                    f"insert into {backup.rel(COLD_MANIFEST)} (file_id, state, table_name, scope, closed_month, part, "
                    f"cold_root, relative_path, file_uri, read_path, storage_class, cutoff_date, created_at) values "
                    f"($id, 'writing', $table, $scope, $month, $part, $root, $relative, $uri, $read_path, $class, "
                    f"$cutoff, now())",
                    {
                        "id": unit.file_id,
                        "table": table,
                        "scope": unit.scope,
                        "month": unit.closed_month,
                        "part": unit.part,
                        "root": root_key,
                        "relative": unit.relative_path,
                        "uri": unit.file_uri,
                        "read_path": unit.read_path,
                        "class": storage_class if store.kind == "gcs" else None,
                        "cutoff": cutoff,
                    },
                )
        fault("tier", "journal", fail_after, table)

        # 2. Write each unit to staging, sorted so Parquet row-group statistics on the validity
        #    interval let a restore skip most of a file.
        projection = write_projection(columns, text_columns)
        for unit in units:
            where, params = unit.predicate()
            unit.staging = staging_dir / f"{unit.file_id}.parquet"
            backup.execute(
                f"copy (select {projection} from {backup.rel(hot)} as hot where {where} "
                f"order by hot.backup_valid_to_seq, hot.backup_valid_from_seq) "
                f"to {duckdb_string(str(unit.staging))} (format parquet, compression zstd)",
                params,
            )
            progress.advance()
        fault("tier", "write", fail_after, table)

        # 3. Read back and verify, value by value, before anything is committed.
        for unit in units:
            _verify_staged(backup, hot, columns, unit)
            progress.advance()
        fault("tier", "verify", fail_after, table)

        # 4. Place in the cold root; never overwrite.
        for unit in units:
            try:
                stored = store.put(
                    unit.staging, unit.relative_path, storage_class if store.kind == "gcs" else None
                )
            except ObjectExists as exc:
                raise BackupError(
                    f"{exc} An unrecorded file sits where tiering writes; nothing was moved."
                ) from exc
            unit.stats["generation"] = stored.generation
            unit.stats["md5"] = stored.md5_base64
            unit.stats["storage_class"] = stored.storage_class
            if store.kind == "gcs":
                # Keep the verified bytes as the DuckDB read cache: no download right after upload.
                cached = Path(unit.read_path)
                cached.parent.mkdir(parents=True, exist_ok=True)
                os.replace(unit.staging, cached)
            else:
                unit.staging.unlink(missing_ok=True)
            progress.advance()
        fault("tier", "upload", fail_after, table)

        # 5. One transaction: manifest rows active, hot rows gone, view re-pointed.
        with backup.transaction():
            for unit in units:
                stats = unit.stats
                backup.execute(
                    f"update {backup.rel(COLD_MANIFEST)} set state = 'active', row_count = $rows, bytes = $bytes, "
                    f"logical_bytes = $logical, content_sha256 = $sha256, content_md5 = $md5, generation = $generation, "
                    f"storage_class = coalesce($class, storage_class), "
                    f"row_checksum_low = $low, row_checksum_high = $high, checksum_engine = $engine, "
                    f"min_closed_date = $min_closed, max_closed_date = $max_closed, "
                    f"min_valid_from_seq = $min_from, max_valid_from_seq = $max_from, "
                    f"min_valid_to_seq = $min_to, max_valid_to_seq = $max_to, committed_at = now() "
                    f"where file_id = $id and state = 'writing'",
                    {
                        "id": unit.file_id,
                        "rows": unit.row_count,
                        "bytes": stats["bytes"],
                        "logical": unit.logical_bytes,
                        "sha256": stats["sha256"],
                        "md5": stats.get("md5"),
                        "generation": stats.get("generation"),
                        "class": stats.get("storage_class"),
                        "low": stats["low"],
                        "high": stats["high"],
                        "engine": engine_label(),
                        "min_closed": stats["min_closed"],
                        "max_closed": stats["max_closed"],
                        "min_from": stats["min_from"],
                        "max_from": stats["max_from"],
                        "min_to": stats["min_to"],
                        "max_to": stats["max_to"],
                    },
                )
            fault("tier", "manifest", fail_after, table)
            for unit in units:
                where, params = unit.predicate()
                present = backup.query(
                    f"select count(*) from {backup.rel(hot)} as hot where {where}", params
                )[0][0]
                if present != unit.row_count:
                    raise BackupError(
                        f"history_{table} changed while tiering ({unit.scope} {unit.closed_month}: {present} rows, "
                        f"{unit.row_count} written); nothing was moved. Re-run."
                    )
                backup.execute(f"delete from {backup.rel(hot)} as hot where {where}", params)
            fault("tier", "delete", fail_after, table)
            install_cold_view(backup, table)
        fault("tier", "commit", fail_after, table)


def _verify_staged(backup: DuckDBBackup, hot: str, columns, unit: Unit) -> None:
    path = str(unit.staging)
    read_columns = described(
        backup.query(f"describe select * from read_parquet({duckdb_string(path)})")
    )
    missing = [name for name, _ in columns if name not in read_columns]
    if missing:
        raise BackupError(
            f"Parquet file for history_{unit.table} lacks columns {missing}; nothing was moved."
        )
    casts = {
        name: column_type for name, column_type in columns if read_columns[name] != column_type
    }
    where, params = unit.predicate()
    expected = backup.query(checksum_select(f"{backup.rel(hot)}", "hot", columns, where), params)[0]
    source = f"read_parquet({duckdb_string(path)})"
    actual = backup.query(checksum_select(source, "cold", columns, "true", casts))[0]
    if tuple(expected) != tuple(actual) or int(actual[0]) != unit.row_count:
        raise BackupError(
            f"The Parquet copy of history_{unit.table} ({unit.scope}, {unit.closed_month}) does not read back "
            f"identical to the hot rows (rows/checksum {tuple(expected)} vs {tuple(actual)}): a column type "
            "probably does not survive Parquet. Nothing was moved; that table stays hot."
        )
    ranges = validity_ranges(backup, source)
    unit.stats.update(
        {
            "row_count": int(actual[0]),
            "high": int(actual[1]),
            "low": int(actual[2]),
            "sha256": file_sha256(unit.staging),
            "bytes": unit.staging.stat().st_size,
            **ranges,
        }
    )
