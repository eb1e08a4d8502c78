"""The one interface the cold commands see of the backup's engine, and how to get it.

`tier` (tier.py) plans, locks, recovers, reports and isolates a failing table the same way on
both engines; what differs (where Parquet comes from, how it is checked, how rows leave the hot
table) sits behind these few methods: `tier_duckdb.DuckDBColdEngine` and
`tier_bigquery.BigQueryColdEngine`.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Any, Protocol

from session_backup.cold.plan import Unit
from session_backup.cold.progress import Progress
from session_backup.cold.storage import ColdStore
from session_backup.config import Settings


class ColdEngine(Protocol):
    kind: str

    def open(self, read_only: bool = False) -> AbstractContextManager[Any]:
        """The backup (rel/exists/query/execute/columns, ensure_tables, history_tables)."""

    def check_paths(self, store: ColdStore) -> None:
        """Refuse a cold root the engine cannot address safely."""

    def plan_units(
        self, backup: Any, table: str, cutoff: date, long_term_before: date
    ) -> list[Unit]:
        """The committed History rows older than the cutoff, per scope and closed month."""

    def hot_totals(self, backup: Any, tables: list[str], long_term_before: date) -> dict:
        """Logical bytes of the hot backup by price tier."""

    def cold_totals(self, backup: Any) -> dict:
        """Bytes of active cold files per storage class."""

    def finish_interrupted(self, backup: Any, stores) -> dict:
        """Undo `writing` files of an interrupted run, delete `retired` ones."""

    def prepare_views(self, tables: list[str]) -> None:
        """Before anything moves: each table's cold relation exists and its restore reads it."""

    def tier_table(
        self,
        store: ColdStore,
        table: str,
        units: list[Unit],
        storage_class: str,
        moment: datetime,
        cutoff: date,
        fail_after: str | None,
        progress: Progress,
    ) -> None:
        """Journal, write, verify, place and commit one table's units."""

    def active_files(self, backup: Any, table: str) -> list[dict]:
        """The manifest's active files of a table (file_id, scope, closed_month, row_count, ...)."""

    def rehydrate_table(
        self,
        stores,
        table: str,
        items: list[dict],
        delete_files: bool,
        fail_after: str | None,
        progress: Progress,
    ) -> dict:
        """Checked rows of these files back into History, out of the manifest, in one commit."""

    def abandon(self, stores, store: ColdStore) -> dict:
        """After a table failed: nothing of it left in the manifest or the staging area."""

    def finish(self, store: ColdStore) -> None:
        """Housekeeping at the end of a run (staging emptied)."""


def cold_engine(settings: Settings) -> ColdEngine:
    if settings.target == "bigquery":
        from session_backup.cold.tier_bigquery import BigQueryColdEngine

        return BigQueryColdEngine(settings)
    from session_backup.cold.tier_duckdb import DuckDBColdEngine

    return DuckDBColdEngine(settings)
