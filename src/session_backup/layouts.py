"""The column layout each session landed with (backup_layouts), so a restore returns exactly
the columns, names and order that session had, whatever landing looks like later."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from session_backup.warehouse import Warehouse


def session_layouts(warehouse: Warehouse, session_id: str) -> dict[str, list[str]]:
    """Each backed-up table's landed column names for one session, in landing order, in one
    query for all its tables. A table missing here was backed up before layouts were recorded:
    its restore returns every stored column."""
    if not warehouse.relation_exists("backup_layouts"):
        return {}
    manifest = warehouse.backup_relation("backup_manifest")
    layouts = warehouse.backup_relation("backup_layouts")
    rows = warehouse.query(
        f"select manifest.table_name, layouts.column_name from {manifest} as manifest "
        f"inner join {layouts} as layouts "
        "on layouts.table_name = manifest.table_name and layouts.layout_id = manifest.layout_id "
        f"where manifest.session_id = {warehouse.param('session_id')} "
        "order by manifest.table_name, layouts.column_position",
        session_id=session_id,
    )
    columns: dict[str, list[str]] = {}
    for table, column in rows:
        columns.setdefault(table, []).append(column)
    return columns
