"""Which sessions exist, and how far their backup has got."""

from __future__ import annotations

from session_backup.declarations import TableDeclaration
from session_backup.warehouse import Warehouse


def session_states(warehouse: Warehouse, declared: list[TableDeclaration], scope: str | None = None) -> list[dict]:
    """One row per session known to landing or to the backup.

    state: backed_up (every table declared today has it), partial, pending (succeeded, not yet
    backed up), skipped (running or failed: never backed up), pruned (removed by retention)."""
    sessions = warehouse.backup_relation("backup_sessions")
    manifest = warehouse.backup_relation("backup_manifest")
    landing = warehouse.landing_relation("sessions")
    landing_part = (
        f"select session_id, scope, started_at, status from {landing}"
        if landing
        else f"select session_id, scope, started_at, 'succeeded' as status from {sessions}"
    )
    params = {}
    scope_filter = ""
    if scope is not None:
        scope_filter = f"where coalesce(landing.scope, claimed.scope) = {warehouse.param('scope')}"
        params["scope"] = scope
    rows = warehouse.query(
        f"""
        with
        landing as ({landing_part}),
        tables_done as (
            select session_id, count(*) as table_count, sum(row_count) as row_count
            from {manifest}
            group by session_id
        )
        select
            coalesce(landing.session_id, claimed.session_id) as session_id,
            coalesce(landing.scope, claimed.scope) as scope,
            coalesce(claimed.started_at, landing.started_at) as started_at,
            coalesce(landing.status, 'succeeded') as landing_status,
            claimed.session_seq,
            coalesce(tables_done.table_count, 0) as table_count,
            coalesce(tables_done.row_count, 0) as row_count,
            landing.session_id is not null as in_landing
        from landing
        full outer join {sessions} as claimed
            on landing.session_id = claimed.session_id
        left join tables_done
            on tables_done.session_id = coalesce(landing.session_id, claimed.session_id)
        {scope_filter}
        order by 2, 3, 1
        """,
        **params,
    )
    declared_count = len(declared)
    from session_backup.tiering import pruned_session_ids

    pruned = pruned_session_ids(warehouse)  # retention (`prune`) made them unrestorable
    states = []
    for session_id, scope_value, started_at, status, seq, table_count, row_count, in_landing in rows:
        if session_id in pruned:
            state = "pruned"
        elif status != "succeeded":
            state = "skipped"
        elif table_count == 0:
            state = "pending"
        elif table_count >= declared_count:
            state = "backed_up"
        else:
            state = "partial"
        states.append(
            {
                "session_id": session_id,
                "scope": scope_value,
                "started_at": str(started_at),
                "landing_status": status,
                "session_seq": seq,
                "tables_backed_up": int(table_count),
                "tables_declared": declared_count,
                "rows_backed_up": int(row_count),
                "in_landing": bool(in_landing),
                "state": state,
            }
        )
    return states
