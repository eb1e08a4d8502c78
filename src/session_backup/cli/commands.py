"""The command group and its core commands: generate, backup, status, restore, verify."""

from __future__ import annotations

import sys

import click

from session_backup import __version__
from session_backup.cli.context import CommandGroup, Context, pass_context
from session_backup.config import load_settings
from session_backup.declarations import load_declarations, project_hash_version
from session_backup.errors import EXIT_PROBLEM


@click.group(cls=CommandGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="session-backup")
@click.option(
    "--project-dir",
    type=click.Path(file_okay=False),
    envvar="SESSION_BACKUP_PROJECT_DIR",
    help="The dbt project that installs the session_backup package (default: current directory).",
)
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.pass_context
def main(
    click_context: click.Context, project_dir: str | None, as_json: bool, quiet: bool, debug: bool
) -> None:
    """Back up every session of the optimization system into Head/History tables and
    restore any of them exactly.

    \b
    Typical day:
      session-backup backup                  # back up every pending session (dbt build -s tag:session_backup)
      session-backup status                  # what is backed up
      session-backup restore --session VN-20240101T000000 --into restored
      session-backup verify --all            # recompute every checksum from the backup
    """
    click_context.obj = Context(load_settings(project_dir), as_json, quiet, debug)


@main.command()
@click.option(
    "--check", is_flag=True, help="Only report whether the files are up to date (exit 1 if not)."
)
@pass_context
def generate(ctx: Context, check: bool) -> None:
    """Write the dbt models of every declared table into the project.

    Run it after adding or changing a `meta.backup` declaration of the landing source. The
    models go to the folder `session_backup_folder` (default models/session_backup), named
    with the prefix `session_backup_prefix` (default backup_); both are dbt vars.

    \b
    Example:
      session-backup generate && session-backup backup
    """
    from session_backup.generate import apply, plan

    if check:
        to_write, stale = plan(ctx.settings.project_dir)
        changed = sorted(str(path) for path in list(to_write) + list(stale))
        ctx.emit(
            {"up_to_date": not changed, "changed": changed},
            "up to date" if not changed else "out of date: " + ", ".join(changed),
        )
        if changed:
            sys.exit(EXIT_PROBLEM)
        return
    written, removed = apply(ctx.settings.project_dir)
    ctx.emit(
        {"written": [str(path) for path in written], "removed": [str(path) for path in removed]},
        f"{len(written)} model file(s) written, {len(removed)} removed",
    )


@main.command()
@click.option(
    "--wait", is_flag=True, help="If another backup is running, wait for it instead of stopping."
)
@click.option(
    "--full-refresh",
    is_flag=True,
    help="Rebuild working tables; Head, History and manifests are never dropped.",
)
@click.option("--show-dbt", is_flag=True, help="Stream dbt's own log to the console.")
@click.option(
    "--check-invariants",
    is_flag=True,
    help="Also run the invariant tests, which read whole tables (Head keys unique, validity "
    "intervals disjoint, History append-only, the manifest's and claims' keys); `dbt test` "
    "runs them too.",
)
@pass_context
def backup(
    ctx: Context, wait: bool, full_refresh: bool, show_dbt: bool, check_invariants: bool
) -> None:
    """Back up every succeeded session not backed up yet, for every declared table.

    One `dbt build` covers all pending sessions, set-based, whatever their number.
    Safe to re-run: nothing is stored twice; an interrupted run is completed by the next one.

    \b
    Example:
      session-backup backup --wait
    """
    from session_backup.backup import project_is_generated, run_backup
    from session_backup.status import session_states
    from session_backup.warehouse import open_warehouse

    project_is_generated(ctx.settings)
    if not ctx.quiet:
        click.echo("running dbt build ...", err=True)
    result = run_backup(
        ctx.settings,
        wait=wait,
        full_refresh=full_refresh,
        show_dbt=show_dbt,
        check_invariants=check_invariants,
        on_wait=ctx.note,
    )
    with open_warehouse(ctx.settings) as warehouse:
        states = session_states(warehouse, load_declarations(ctx.settings.project_dir))
    counts: dict[str, int] = {}
    for state in states:
        counts[state["state"]] = counts.get(state["state"], 0) + 1
    ctx.emit(
        {"seconds": round(result.seconds, 3), "sessions": counts},
        f"backup done in {result.seconds:.1f}s: "
        + ", ".join(f"{count} {state}" for state, count in sorted(counts.items())),
    )


@main.command()
@click.option(
    "--session",
    "session_id",
    help="The session to restore (or: --scope with --since/--until or --as-of, or --sessions-file).",
)
@click.option("--scope", help="With --since/--until or --as-of: sessions of this scope.")
@click.option(
    "--since", help="With --scope: sessions that started at or after this time (ISO 8601, UTC)."
)
@click.option(
    "--until", help="With --scope: sessions that started before this time (ISO 8601, UTC)."
)
@click.option(
    "--sessions-file",
    type=click.Path(dir_okay=False),
    help="The sessions listed in this file, one id per line.",
)
@click.option(
    "--as-of", help="With --scope: the last backed-up session that started at or before this time."
)
@click.option("--as-views", is_flag=True, help="Create views instead of tables (no copy).")
@click.option(
    "--table", "tables", multiple=True, help="A table to restore (repeatable; default: all)."
)
@click.option(
    "--into",
    "into_schema",
    required=True,
    help="Schema (DuckDB) or dataset (BigQuery) to create the tables in; replaced if present.",
)
@click.option(
    "--allow-partial",
    is_flag=True,
    help="If some declared table has no backup of the session, restore the others (default: refuse).",
)
@pass_context
def restore(
    ctx: Context,
    session_id: str | None,
    tables: tuple[str, ...],
    into_schema: str,
    allow_partial: bool,
    **selection,
) -> None:
    """Materialize tables exactly as they were landed for one session.

    Every row, value and duplicate, with the landing's columns and types; all tables or none.
    A session some declared table has no backup of is refused (exit 1) with each missing table
    and why, unless --allow-partial or --table says which to restore. Never into the backup's
    own schemas (exit 2).

    \b
    Example:
      session-backup restore --session VN-20240101T000000 --table orders --into explain_vn

    Many sessions in one query (one table per landing table, session_id telling them apart),
    a point in time, or views instead of tables:

    \b
      session-backup restore --scope VN --since 2024-01-01 --until 2024-04-01 --into backtest_q1
      session-backup restore --sessions-file sessions.txt --into backtest
      session-backup restore --scope VN --as-of 2024-03-31T23:59:59 --into explain_vn
      session-backup restore --session VN-20240101T000000 --as-views --into explore_vn
    """
    if session_id is None or any(value not in (None, False) for value in selection.values()):
        from session_backup.cli.backtest import restore_selected

        return restore_selected(
            ctx,
            session_id=session_id,
            tables=tables,
            into_schema=into_schema,
            allow_partial=allow_partial,
            **selection,
        )
    from session_backup.cold import prepare_cold_reads
    from session_backup.restore import choose_tables, refuse_backup_schema
    from session_backup.restore import restore as restore_tables
    from session_backup.warehouse import open_warehouse

    refuse_backup_schema(ctx.settings, into_schema)  # before anything is written
    prepare_cold_reads(
        ctx.settings, session_id, tables
    )  # pruned sessions refused; cold files checked/fetched
    with open_warehouse(ctx.settings, read_only=False) as warehouse:
        chosen = choose_tables(
            warehouse,
            session_id,
            tables,
            load_declarations(ctx.settings.project_dir),
            allow_partial=allow_partial,
        )
        counts = restore_tables(warehouse, session_id, chosen, into_schema)
    ctx.emit(
        {"session_id": session_id, "into": into_schema, "tables": counts},
        "\n".join(f"{into_schema}.{table}: {rows} rows" for table, rows in counts.items()),
    )


@main.command()
@click.option("--session", "session_id", help="Verify one session.")
@click.option("--all", "verify_all", is_flag=True, help="Verify every backed-up session.")
@pass_context
def verify(ctx: Context, session_id: str | None, verify_all: bool) -> None:
    """Recompute each restored table's checksum from the backup and compare with the manifest.

    Exit code 1 if any table of any session differs.

    \b
    Example:
      session-backup verify --all --json
    """
    from session_backup.restore import manifest_entries
    from session_backup.restore import verify as verify_entries
    from session_backup.warehouse import open_warehouse

    if (session_id is not None) == verify_all:  # '' is a session id like any other
        raise click.UsageError("Give exactly one of --session ID or --all.")
    from session_backup.cold import prepare_cold_reads

    prepare_cold_reads(
        ctx.settings, session_id
    )  # pruned sessions refused; cold files checked/fetched
    with open_warehouse(ctx.settings) as warehouse:
        entries = manifest_entries(warehouse, session_id)
        with ctx.progress(len(entries), "verifying") as bar:
            results = verify_entries(
                warehouse,
                entries,
                project_hash_version(ctx.settings.project_dir),
                on_progress=lambda: bar.update(1),
            )
    failed = [result for result in results if not result.ok]
    sessions = len({result.session_id for result in results})
    lines = [
        f"verified {len(results)} table backups of {sessions} session(s): {len(failed)} mismatch(es)"
    ]
    for result in failed:
        lines.append(
            f"MISMATCH {result.session_id} {result.table}: "
            + (result.error or f"expected {result.expected}, got {result.actual}")
        )
    ctx.emit(
        {
            "checked": len(results),
            "sessions": sessions,
            "failed": [r.as_dict() for r in failed],
            "ok": not failed,
        },
        "\n".join(lines),
    )
    if failed:
        sys.exit(EXIT_PROBLEM)


@main.command()
@click.option("--scope", help="Only this scope.")
@pass_context
def status(ctx: Context, scope: str | None) -> None:
    """List sessions and their backup state (backed_up, partial, pending, skipped).

    A partial or pending session lists each table it has no backup of and why (JSON:
    `missing_tables`); the last backup run's error is shown when that run did not succeed.

    \b
    Example:
      session-backup status --scope VN
    """
    from session_backup.run_log import last_runs
    from session_backup.status import session_states
    from session_backup.warehouse import open_warehouse

    with open_warehouse(ctx.settings) as warehouse:
        states = session_states(warehouse, load_declarations(ctx.settings.project_dir), scope)
        last_run, _ = last_runs(warehouse)
    lines = [f"{'session_id':<28} {'scope':<6} {'started_at':<20} {'state':<10} tables"]
    for state in states:
        lines.append(
            f"{state['session_id']:<28} {state['scope']:<6} {state['started_at'][:19]:<20} "
            f"{state['state']:<10} {state['tables_backed_up']}/{state['tables_declared']}"
        )
        if state["state"] == "partial":
            lines.extend(
                f"    no backup of {table}: {reason}"
                for table, reason in state["missing_tables"].items()
            )
    if last_run is not None and last_run.outcome != "succeeded":
        lines.append(
            f"last backup run ({last_run.finished_at:%Y-%m-%d %H:%M:%S} UTC) {last_run.outcome}: "
            f"{last_run.error}"
        )
    ctx.emit(states, "\n".join(lines))


def run() -> None:
    """Entry point that maps unexpected exceptions to exit code 2 without a traceback."""
    debug = "--debug" in sys.argv
    try:
        main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(2)
    except Exception as exc:
        if debug:
            raise
        click.echo(f"Error: {exc} (run with --debug for the traceback)", err=True)
        sys.exit(2)
