"""The column layout each session landed with (backup_layouts), so a restore returns exactly
the columns, names and order that session had, whatever landing looks like later."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from session_backup.warehouse import Warehouse


def session_columns(warehouse: Warehouse, session_id: str, table: str) -> list[str] | None:
    """The session's landed column names in landing order, or None for a backup written before
    layouts were recorded (its restore then returns every stored column)."""
    if not warehouse.relation_exists("backup_layouts"):
        return None
    manifest = warehouse.backup_relation("backup_manifest")
    layouts = warehouse.backup_relation("backup_layouts")
    rows = warehouse.query(
        f"select layouts.column_name from {manifest} as manifest "
        f"inner join {layouts} as layouts "
        "on layouts.table_name = manifest.table_name and layouts.layout_id = manifest.layout_id "
        f"where manifest.session_id = {warehouse.param('session_id')} "
        f"and manifest.table_name = {warehouse.param('table_name')} "
        "order by layouts.column_position",
        session_id=session_id,
        table_name=table,
    )
    return [row[0] for row in rows] or None
