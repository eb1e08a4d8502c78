"""What `prune` removes, the same rules on both engines: the sessions that leave, the hot versions
and cold files no kept session needs, and the cold files only partly needed (rewritten).

The engine supplies two things: its cold manifest's active files of a table, and the SQL of
"removable" for a row alias (DuckDB joins small temp tables, BigQuery writes the scopes and
holds inline); everything else here is portable SQL through `backup.query`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from session_backup.cold.names import COLD_MANIFEST, HOLDS, PRUNED_SESSIONS
from session_backup.cold.plan import committed_closing_sql
from session_backup.errors import BackupError

# alias -> SQL condition on that alias: the row is closed before its scope's window and no
# held session needs it.
Removable = Callable[[str], str]


def plan_prune(
    backup: Any,
    tables: list[str],
    window_start: datetime,
    requested_holds: list[str],
    releases: list[str],
    active_files: Callable[[Any, str], list[dict]],
    removable_for: Callable[[Any, dict[str, int], list[tuple[str, int]]], Removable],
) -> dict:
    sessions = backup.rel("backup_sessions")
    known = {
        row[0]: (row[1], int(row[2]), row[3])
        for row in backup.query(
            f"select session_id, scope, session_seq, started_at from {sessions}"
        )
    }
    unknown = [sid for sid in requested_holds + releases if sid not in known]
    if unknown:
        raise BackupError(
            f"Unknown session(s) for --hold/--release: {', '.join(unknown[:10])} "
            "(see `session-backup status`)."
        )
    persisted = (
        [row[0] for row in backup.query(f"select distinct session_id from {backup.rel(HOLDS)}")]
        if backup.exists(HOLDS)
        else []
    )
    held = sorted((set(persisted) | set(requested_holds)) - set(releases))
    already_pruned = (
        {row[0] for row in backup.query(f"select session_id from {backup.rel(PRUNED_SESSIONS)}")}
        if backup.exists(PRUNED_SESSIONS)
        else set()
    )
    refused = [sid for sid in requested_holds if sid in already_pruned]
    if refused:
        raise BackupError(
            f"Session(s) {', '.join(refused)} were already pruned: a hold cannot bring them back."
        )
    # Per scope: the first session inside the window (or one past the last session).
    window = {
        scope: int(seq)
        for scope, seq in backup.query(
            f"select scope, coalesce(min(case when started_at >= $start then session_seq end), "
            f"max(session_seq) + 1) from {sessions} group by scope",
            {"start": window_start},
        )
    }
    with_manifest = {
        row[0]
        for row in backup.query(f"select distinct session_id from {backup.rel('backup_manifest')}")
    }
    to_prune = sorted(
        (
            sid
            for sid, (scope, seq, _) in known.items()
            if seq < window[scope] - 1
            and sid not in held
            and sid not in already_pruned
            and sid in with_manifest
        ),
        key=lambda sid: (known[sid][0], known[sid][1]),
    )
    held_rows = [(known[sid][0], known[sid][1]) for sid in held]
    removable = removable_for(backup, window, held_rows)
    hot_counts: dict[str, int] = {}
    # Cold files: whole files go when every row is removable; partly removable files are
    # rewritten with the rows that stay.
    drop, rewrite = [], []
    for table in tables:
        hot_counts[table] = int(
            backup.query(
                f"select count(*) from {backup.rel('history_' + table)} as hot "
                f"where {removable('hot')} and {committed_closing_sql(backup)}",
                {"table": table},
            )[0][0]
        )
        for item in active_files(backup, table):
            item["table_name"] = table
            scope_window = window.get(item["scope"])
            if scope_window is None or item["min_valid_from_seq"] is None:
                continue
            if int(item["max_valid_to_seq"]) < scope_window and not any(
                scope == item["scope"]
                and item["min_valid_from_seq"] <= seq < item["max_valid_to_seq"]
                for scope, seq in held_rows
            ):
                drop.append(item)
            elif _min_valid_to(backup, item) < scope_window:
                rewrite.append(item)
    by_scope: dict[str, list[str]] = {}
    for sid in to_prune:
        by_scope.setdefault(known[sid][0], []).append(sid)
    summary = {
        "held_sessions": held,
        "newly_held": [sid for sid in requested_holds if sid not in persisted],
        "released": [sid for sid in releases if sid in persisted],
        "sessions_to_prune": len(to_prune),
        "sessions_to_prune_by_scope": {
            scope: {"count": len(ids), "first": ids[0], "last": ids[-1]}
            for scope, ids in by_scope.items()
        },
        "pruned_session_ids": to_prune,
        "hot_versions_to_remove": hot_counts,
        "cold_files_to_delete": [
            {
                "table": i["table_name"],
                "file": i["file_uri"],
                "rows": i["row_count"],
                "bytes": i["bytes"],
            }
            for i in drop
        ],
        "cold_files_to_rewrite": [
            {"table": i["table_name"], "file": i["file_uri"], "rows": i["row_count"]}
            for i in rewrite
        ],
    }
    return {
        "summary": summary,
        "tables": tables,
        "to_prune": to_prune,
        "known": known,
        "held": held,
        "requested_holds": requested_holds,
        "releases": releases,
        "persisted_holds": persisted,
        "window": window,
        "held_rows": held_rows,
        "drop": drop,
        "rewrite": rewrite,
        "removable": removable,
    }


def _min_valid_to(backup: Any, item: dict) -> int:
    rows = backup.query(
        f"select min_valid_to_seq from {backup.rel(COLD_MANIFEST)} where file_id = $id",
        {"id": item["file_id"]},
    )
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0
