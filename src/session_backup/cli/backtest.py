"""`session-backup export | diff | log`, and the many-session, point-in-time and view forms of
`restore`: back-testing a model on past sessions and explaining a past result.

Registered on the main group by the package (cli/__init__.py); `restore` (cli/commands.py) hands its new options to
`restore_selected` here. The logic lives in backtest.py; this module parses options and prints
(results on stdout, progress on stderr).
"""

from __future__ import annotations

import click

from session_backup import backtest
from session_backup.cli.context import Context, pass_context
from session_backup.declarations import load_declarations
from session_backup.errors import BackupError, ProblemFound


def _prepare_cold_reads(ctx: Context, session_ids: list[str], tables: list[str]) -> None:
    """Cold files checked (and fetched) once for the tables; pruned sessions refused."""
    from session_backup.cold import prepare_cold_reads

    if len(session_ids) == 1:
        prepare_cold_reads(ctx.settings, session_ids[0], tables)
    else:
        prepare_cold_reads(ctx.settings, None, tables, deep=False)


def _refuse_pruned(warehouse, session_ids: list[str]) -> None:
    if not warehouse.relation_exists("backup_pruned_sessions"):
        return
    relation = warehouse.backup_relation("backup_pruned_sessions")
    for start in range(0, len(session_ids), 1000):
        params = {
            f"id{index}": value for index, value in enumerate(session_ids[start : start + 1000])
        }
        placeholders = ", ".join(warehouse.param(name) for name in params)
        pruned = warehouse.query(
            f"select session_id from {relation} where session_id in ({placeholders}) limit 1",
            **params,
        )
        if pruned:
            raise BackupError(
                f"Session {pruned[0][0]!r} was pruned by retention; it can no longer be restored."
            )


def _selection(
    warehouse,
    *,
    session_id: str | None,
    scope: str | None,
    since: str | None,
    until: str | None,
    sessions_file: str | None,
    as_of: str | None,
    tables: list[str],
) -> tuple[list, dict]:
    """The sessions one of the selection forms names, and how they were chosen (for output)."""
    given = [
        name
        for name, value in (
            ("--session", session_id),
            ("--sessions-file", sessions_file),
            ("--as-of", as_of),
        )
        if value is not None
    ]
    if since is not None or until is not None:
        given.append("--since/--until")
    if len(given) > 1:
        raise click.UsageError(f"Give only one of {', '.join(given)}.")
    if (since is not None or until is not None or as_of is not None) and scope is None:
        raise click.UsageError("--since, --until and --as-of need --scope.")
    if scope is not None and (session_id is not None or sessions_file is not None):
        raise click.UsageError(
            "--scope goes with --since/--until or --as-of, not with --session or --sessions-file."
        )
    if session_id is not None:
        return backtest.sessions_listed(warehouse, [session_id], tables, every_table=False), {
            "session_id": session_id
        }
    if sessions_file is not None:
        ids = backtest.read_sessions_file(sessions_file)
        return backtest.sessions_listed(warehouse, ids, tables, every_table=False), {
            "sessions_file": sessions_file
        }
    if as_of is not None:
        moment = backtest.parse_timestamp(as_of, "--as-of")
        picked = backtest.session_as_of(warehouse, scope, moment, tables)
        return [picked], {"scope": scope, "as_of": str(moment), "picked": picked.as_dict()}
    if scope is not None:
        start = backtest.parse_timestamp(since, "--since") if since is not None else None
        end = backtest.parse_timestamp(until, "--until") if until is not None else None
        found = backtest.sessions_between(warehouse, scope, start, end, tables)
        return found, {
            "scope": scope,
            "since": None if start is None else str(start),
            "until": None if end is None else str(end),
        }
    raise click.UsageError(
        "Name the sessions: --session ID, --sessions-file F, --scope S [--since T1] [--until T2], "
        "or --scope S --as-of T."
    )


def _sessions_by_table(
    warehouse,
    sessions: list,
    tables: list[str],
    declared,
    allow_partial: bool,
    verbs: tuple[str, str],
) -> tuple[dict[str, list], dict[str, dict[str, str]]]:
    """Per table, the sessions to read. All or nothing, as for one session: a session that holds
    no backup of some of the tables is refused (exit 1) with the tables and why, unless
    allow_partial; then each table takes the sessions backed up for it, and a table none of
    them holds is left out."""
    missing = backtest.missing_backups(warehouse, sessions, tables, declared)
    if missing and not allow_partial:
        first_id, first = next(iter(missing.items()))
        tables_missing = sorted({table for why in missing.values() for table in why})
        count = (
            f"Session {first_id!r} is"
            if len(missing) == 1
            else f"{len(missing)} of the {len(sessions)} sessions are"
        )
        raise ProblemFound(
            f"{count} only partly backed up: no backup of {', '.join(tables_missing)} ("
            + ("" if len(missing) == 1 else f"first: session {first_id!r}: ")
            + "; ".join(f"{table}: {why}" for table, why in sorted(first.items()))
            + f"). Nothing was {verbs[1]}; {verbs[0]} the others "
            "with --allow-partial (each table then holds the sessions backed up for it), or "
            "name the tables with --table."
        )
    by_table = {
        table: [s for s in sessions if table not in missing.get(s.session_id, {})]
        for table in tables
    }
    by_table = {table: chosen for table, chosen in by_table.items() if chosen}
    if not by_table:
        raise ProblemFound(
            f"None of the {len(sessions)} session(s) holds a backup of {', '.join(tables)}. "
            f"Nothing was {verbs[1]}."
        )
    return by_table, missing


def restore_selected(
    ctx: Context,
    *,
    session_id: str | None,
    tables: tuple[str, ...],
    into_schema: str,
    scope: str | None,
    since: str | None,
    until: str | None,
    sessions_file: str | None,
    as_of: str | None,
    as_views: bool,
    allow_partial: bool = False,
) -> None:
    """`restore` with a session set, a point in time or --as-views: one table (or view) per
    landing table in landing layout, session_id telling the sessions apart. Partly backed-up
    sessions are refused as the one-session restore refuses them, unless allow_partial."""
    from session_backup.warehouse import open_warehouse

    try:  # never into the backup's own schemas
        from session_backup.restore import refuse_backup_schema
    except ImportError:
        refuse_backup_schema = None
    if refuse_backup_schema is not None:
        refuse_backup_schema(ctx.settings, into_schema)
    declared = load_declarations(ctx.settings.project_dir)
    by_name = {table.name: table for table in declared}
    single = session_id is not None or as_of is not None
    if single:
        # One session: every strategy restores through restore_<t>(id).
        chosen = list(dict.fromkeys(tables)) or [table.name for table in declared]
        for name in chosen:
            if name not in by_name:
                raise BackupError(
                    f"Table {name!r} is not declared for backup (declared: {', '.join(sorted(by_name))})."
                )
    else:
        chosen = backtest.history_tables(declared, tables)
    with open_warehouse(ctx.settings) as warehouse:
        sessions, how = _selection(
            warehouse,
            session_id=session_id,
            scope=scope,
            since=since,
            until=until,
            sessions_file=sessions_file,
            as_of=as_of,
            tables=chosen,
        )
        ids = [session.session_id for session in sessions]
        missing: dict[str, dict[str, str]] = {}
        if single:  # as the one-session restore chooses (and refuses)
            from session_backup.restore import choose_tables

            chosen = choose_tables(warehouse, ids[0], tables, declared, allow_partial=allow_partial)
            by_table = {table: sessions for table in chosen}
        else:
            by_table, missing = _sessions_by_table(
                warehouse, sessions, chosen, declared, allow_partial, ("restore", "restored")
            )
            chosen = list(by_table)
    if "picked" in how:
        picked = sessions[0]
        ctx.note(
            f"as of {how['as_of']}: session {picked.session_id!r} (started {picked.started_at})"
        )
    if missing:
        ctx.note(
            f"--allow-partial: {len(missing)} session(s) left out of the tables they hold no backup of"
        )
    _prepare_cold_reads(ctx, ids, chosen)
    with open_warehouse(ctx.settings, read_only=False) as warehouse:
        _refuse_pruned(warehouse, ids)
        if single:
            sources = {
                table: backtest.single_restore_source(warehouse, table, ids[0]) for table in chosen
            }
        else:
            sources = {
                table: backtest.restore_source(warehouse, table, by_table[table])
                for table in chosen
            }
        ctx.note(
            f"restoring {len(chosen)} table(s) of {len(ids)} session(s) into {into_schema} ..."
        )
        counts = backtest.materialize(warehouse, sources, into_schema, as_views)
    kind = "view" if as_views else "table"
    payload = {
        **how,
        "into": into_schema,
        "kind": kind,
        "sessions": [session.as_dict() for session in sessions],
        "tables": counts,
        "sessions_per_table": {table: len(by_table[table]) for table in counts},
        "missing_tables": missing,
    }
    lines = []
    if "picked" in how:
        lines.append(
            f"picked session {sessions[0].session_id} (started {sessions[0].started_at}) "
            f"as of {how['as_of']}"
        )
    for table, rows in counts.items():
        described = f"{rows} rows" if rows is not None else "view"
        lines.append(f"{into_schema}.{table}: {described} ({len(by_table[table])} session(s))")
    ctx.emit(payload, "\n".join(lines))


_SELECTION_OPTIONS = [
    click.option("--session", "session_id", help="One session."),
    click.option("--scope", help="The scope of --since/--until or --as-of."),
    click.option("--since", help="Sessions that started at or after this time (ISO, UTC)."),
    click.option("--until", help="Sessions that started before this time (ISO, UTC)."),
    click.option(
        "--sessions-file",
        type=click.Path(dir_okay=False),
        help="A file with one session id per line.",
    ),
    click.option(
        "--as-of", help="The last backed-up session of --scope that started at or before this time."
    ),
    click.option(
        "--table",
        "tables",
        multiple=True,
        help="A table (repeatable; default: every History table).",
    ),
]


def _selection_options(command):
    for option in reversed(_SELECTION_OPTIONS):
        command = option(command)
    return command


@click.command("export")
@_selection_options
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["parquet"]),
    default="parquet",
    show_default=True,
    help="File format.",
)
@click.option("--out", required=True, help="A folder, or gs://bucket/prefix.")
@click.option(
    "--allow-partial",
    is_flag=True,
    help="If some session has no backup of some table, export each table's backed-up sessions "
    "(default: refuse).",
)
@pass_context
def export(
    ctx: Context,
    session_id,
    scope,
    since,
    until,
    sessions_file,
    as_of,
    tables,
    file_format,
    out,
    allow_partial,
) -> None:
    """Write sessions as Parquet files a back-test runner reads directly.

    One file per table and session, in landing layout (session_id and the table's columns),
    under OUT/<table>/backup_scope=<scope>/backup_session=<session_id>/data.parquet with scope
    and session id percent-encoded, plus OUT/manifest.json: per file its row count, SHA-256
    and the backup's row count and checksum of that session. Sessions that hold no backup of
    some table are refused (exit 1) with the tables and why, unless --allow-partial.

    \b
    Examples:
      session-backup export --scope VN --since 2024-01-01 --until 2024-04-01 --out backtest/q1
      session-backup export --sessions-file sessions.txt --table orders --out gs://bucket/backtest
      python -c "import pandas; print(pandas.read_parquet('backtest/q1/orders'))"
    """
    from session_backup.warehouse import open_warehouse

    declared = load_declarations(ctx.settings.project_dir)
    chosen = backtest.history_tables(declared, tables)
    with open_warehouse(ctx.settings) as warehouse:
        sessions, how = _selection(
            warehouse,
            session_id=session_id,
            scope=scope,
            since=since,
            until=until,
            sessions_file=sessions_file,
            as_of=as_of,
            tables=chosen,
        )
        if "picked" in how:
            ctx.note(
                f"as of {how['as_of']}: session {sessions[0].session_id!r} (started {sessions[0].started_at})"
            )
        _refuse_pruned(warehouse, [session.session_id for session in sessions])
        by_table, missing = _sessions_by_table(
            warehouse, sessions, chosen, declared, allow_partial, ("export", "exported")
        )
        chosen = list(by_table)
    _prepare_cold_reads(ctx, [session.session_id for session in sessions], chosen)
    with (
        open_warehouse(ctx.settings) as warehouse,
        ctx.progress(sum(len(listed) for listed in by_table.values()), "exporting") as bar,
    ):
        manifest = backtest.export_sessions(
            warehouse, sessions, chosen, out, on_progress=bar.update, sessions_by_table=by_table
        )
    rows = sum(entry["row_count"] for entry in manifest["files"])
    ctx.emit(
        {
            **how,
            "out": out,
            "manifest": manifest["location"],
            "files": len(manifest["files"]),
            "rows": rows,
            "sessions": len(sessions),
            "tables": chosen,
            "missing_tables": missing,
        },
        f"{len(manifest['files'])} file(s), {rows} rows of {len(sessions)} session(s) written to {out}; "
        f"manifest: {manifest['location']}",
    )


def _format_values(values: dict | None) -> str:
    if not values:
        return ""
    return ", ".join(f"{name}={value!r}" for name, value in values.items())


@click.command("diff")
@click.option(
    "--from", "from_id", required=True, help="The session to compare from (the 'old' side)."
)
@click.option(
    "--to", "to_id", required=True, help="The session to compare to (the 'new' side); either order."
)
@click.option(
    "--table", "tables", multiple=True, help="A table (repeatable; default: every History table)."
)
@click.option("--summary", is_flag=True, help="Only the counts per table.")
@pass_context
def diff(ctx: Context, from_id: str, to_id: str, tables: tuple[str, ...], summary: bool) -> None:
    """Show what changed between two sessions of one scope, any distance apart.

    Per table: keys added, removed and changed, with the old and new values of the changed
    columns; keyless tables: rows whose count changed, with both counts. Reads only the
    versions that changed between the two sessions, not the tables.

    \b
    Examples:
      session-backup diff --from VN-20240101T000000 --to VN-20240102T000000
      session-backup --json diff --from VN-20240102T000000 --to VN-20240101T000000 --table orders
    """
    from session_backup.warehouse import open_warehouse

    declared = load_declarations(ctx.settings.project_dir)
    chosen = backtest.history_tables(declared, tables)
    keys = {table.name: table.key for table in declared}
    _prepare_cold_reads(ctx, [], chosen)
    with open_warehouse(ctx.settings) as warehouse:
        result = backtest.diff_sessions(warehouse, from_id, to_id, chosen, keys)
    if summary:
        for entry in result["tables"].values():
            entry.pop("rows")
    lines = [f"diff {from_id} -> {to_id} (scope {result['scope']})"]
    for table, entry in result["tables"].items():
        lines.append(
            f"{table}: {entry['added']} added, {entry['removed']} removed, {entry['changed']} changed"
        )
        for row in entry.get("rows", []):
            if not entry["keyed"]:
                marker = {"added": "+", "removed": "-", "changed": "~"}[row["change"]]
                lines.append(
                    f"  {marker} ({_format_values(row['row'])}) x{row['old_count']} -> x{row['new_count']}"
                )
            elif row["change"] == "changed":
                changes = ", ".join(
                    f"{name}: {row['old'][name]!r} -> {row['new'][name]!r}"
                    for name in row["changed_columns"]
                )
                lines.append(f"  ~ {_format_values(row['key'])}: {changes}")
            elif row["change"] == "added":
                lines.append(f"  + {_format_values(row['key'])}: {_format_values(row['new'])}")
            else:
                lines.append(f"  - {_format_values(row['key'])}: {_format_values(row['old'])}")
    ctx.emit(result, "\n".join(lines))


def _key_values(pairs: tuple[str, ...]) -> dict[str, str]:
    values = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator or not name:
            raise click.UsageError(f"--key {pair!r}: expected column=value.")
        values[name] = value
    if not values:
        raise click.UsageError("Give at least one --key column=value.")
    return values


@click.command("log")
@click.option("--table", "table", required=True, help="The table.")
@click.option(
    "--key",
    "key_pairs",
    multiple=True,
    help="column=value (repeatable; every key column of the table).",
)
@click.option("--scope", help="Only this scope.")
@pass_context
def log(ctx: Context, table: str, key_pairs: tuple[str, ...], scope: str | None) -> None:
    """Show every version of one row, with the sessions and times it was valid in.

    Values are compared as text (`--key o_orderkey=42`, `--key day=2024-01-31`).

    \b
    Example:
      session-backup log --table orders --key o_orderkey=42 --scope VN
    """
    from session_backup.warehouse import open_warehouse

    declared = load_declarations(ctx.settings.project_dir)
    backtest.history_tables(declared, [table])
    values = _key_values(key_pairs)
    _prepare_cold_reads(ctx, [], [table])
    with open_warehouse(ctx.settings) as warehouse:
        versions = backtest.row_log(warehouse, table, values, scope)
    lines = [f"{len(versions)} version(s) of {table} where {_format_values(values)}"]
    for version in versions:
        landing = {name: value for name, value in version.items() if not name.startswith("backup_")}
        until = (
            f"until {version['backup_last_session_id']} ({version['backup_last_session_at']})"
            + (
                ""
                if version["backup_is_current"]
                else f", replaced in {version['backup_valid_to_session_id']}"
            )
        )
        lines.append(
            f"[{version['backup_scope']}] from {version['backup_valid_from_session_id']} "
            f"({version['backup_valid_from_at']}) {until}; {version['backup_session_count']} session(s)"
            + (" (current)" if version["backup_is_current"] else "")
        )
        lines.append(f"    {_format_values(landing)}")
    ctx.emit(versions, "\n".join(lines))
