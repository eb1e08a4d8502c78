"""Which sessions exist, and how far their backup has got."""

from __future__ import annotations

from session_backup.declarations import TableDeclaration
from session_backup.run_log import BackupRun, last_runs
from session_backup.warehouse import Warehouse


def session_states(
    warehouse: Warehouse, declared: list[TableDeclaration], scope: str | None = None
) -> list[dict]:
    """One row per session known to landing or to the backup.

    state: backed_up (every table declared today has it), partial, pending (succeeded, not yet
    backed up), skipped (running or failed: never backed up), pruned (removed by retention).
    Partial and pending sessions also get `missing_tables`: each table without a backup, and why."""
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
    from session_backup.cold import pruned_session_ids

    pruned = pruned_session_ids(warehouse)  # retention (`prune`) made them unrestorable
    states = []
    for (
        session_id,
        scope_value,
        started_at,
        status,
        seq,
        table_count,
        row_count,
        in_landing,
    ) in rows:
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
    incomplete = [state for state in states if state["state"] in {"partial", "pending"}]
    if incomplete:
        for state, missing in zip(incomplete, missing_tables(warehouse, declared, incomplete)):
            state["missing_tables"] = missing
    return states


def missing_tables(
    warehouse: Warehouse, declared: list[TableDeclaration], states: list[dict]
) -> list[dict[str, str]]:
    """For each session (a dict with session_id, scope, session_seq), the declared tables it has
    no backup of, each with the reason: not backed up yet (or the last run's error), declared
    after the session, or missing between backed-up sessions.

    A table's backed-up sessions form one gap-free run of sequence numbers per scope, so they
    are read as ranges (min, max, count); exact rows are read only for a range with holes."""
    names = [table.name for table in declared]
    if not names:
        return [{} for _ in states]
    manifest = warehouse.backup_relation("backup_manifest")
    sessions = warehouse.backup_relation("backup_sessions")
    ranges = {
        (scope, table): (int(low), int(high), int(count))
        for scope, table, low, high, count in warehouse.query(
            f"select claimed.scope, manifest.table_name, min(claimed.session_seq), max(claimed.session_seq), "
            f"count(*) from {manifest} as manifest inner join {sessions} as claimed "
            "on manifest.session_id = claimed.session_id group by claimed.scope, manifest.table_name"
        )
    }
    last_run, _ = last_runs(warehouse)
    waiting = not_backed_up_yet(last_run)
    first_sessions: dict[tuple[str, int], str] = {}
    holes: dict[tuple[str, str], set[int]] = {}
    results = []
    for state in states:
        scope, seq = state["scope"], state["session_seq"]
        missing: dict[str, str] = {}
        for table in names:
            found = ranges.get((scope, table))
            if seq is None or found is None or seq > found[1]:
                missing[table] = waiting
            elif seq < found[0]:
                if (scope, found[0]) not in first_sessions:
                    first_sessions.update(_sessions_at(warehouse, {(scope, found[0])}))
                missing[table] = (
                    f"declared after this session: its backup of scope {scope} starts at session "
                    f"{first_sessions.get((scope, found[0]), '?')!r}"
                )
            elif found[2] < found[1] - found[0] + 1:
                if (scope, table) not in holes:
                    holes[(scope, table)] = _backed_up_seqs(warehouse, scope, table)
                if seq not in holes[(scope, table)]:
                    missing[table] = (
                        f"never backed up, although earlier and later sessions of scope {scope} are "
                        "(restore it from landing and back it up again, or restore with --table)"
                    )
        results.append(missing)
    return results


def not_backed_up_yet(last_run: BackupRun | None) -> str:
    if last_run is None or last_run.outcome == "succeeded":
        return "not backed up yet (run `session-backup backup`)"
    return (
        f"not backed up: the last backup run ({last_run.finished_at:%Y-%m-%d %H:%M:%S} UTC) "
        f"{last_run.outcome}: {last_run.error}"
    )


def _sessions_at(
    warehouse: Warehouse, positions: set[tuple[str, int]]
) -> dict[tuple[str, int], str]:
    """Session ids at (scope, seq) positions: the few first sessions of each table's backup."""
    sessions = warehouse.backup_relation("backup_sessions")
    found = {}
    for scope, seq in sorted(positions):
        rows = warehouse.query(
            f"select session_id from {sessions} where scope = {warehouse.param('scope')} "
            f"and session_seq = {warehouse.param('seq')}",
            scope=scope,
            seq=seq,
        )
        if rows:
            found[(scope, seq)] = rows[0][0]
    return found


def _backed_up_seqs(warehouse: Warehouse, scope: str, table: str) -> set[int]:
    manifest = warehouse.backup_relation("backup_manifest")
    sessions = warehouse.backup_relation("backup_sessions")
    rows = warehouse.query(
        f"select claimed.session_seq from {manifest} as manifest inner join {sessions} as claimed "
        f"on manifest.session_id = claimed.session_id where claimed.scope = {warehouse.param('scope')} "
        f"and manifest.table_name = {warehouse.param('table')}",
        scope=scope,
        table=table,
    )
    return {int(row[0]) for row in rows}
