"""`session-backup tier | rehydrate | prune`: cold storage and retention of History.

Registered on the main group by the package (cli/__init__.py); imports only cli.context, so
there is no import cycle. The logic lives in session_backup.cold; this module only parses
options and prints (results on stdout, progress on stderr).
Design: docs/cold-storage.md.
"""

from __future__ import annotations

import sys

import click

from session_backup.cli.context import Context, pass_context
from session_backup.cold import Progress

EXIT_PROBLEM = 1  # ran, but a table could not be tiered


class _BarProgress(Progress):
    """A click progress bar on stderr, created once the work is known (hidden with --quiet/--json)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.bar = None

    def start(self, total: int, label: str) -> None:
        self.bar = self.ctx.progress(total, label)
        self.bar.__enter__()

    def advance(self, steps: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(steps)

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _size(value: int | None) -> str:
    if value is None:
        return "?"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024
    return f"{size:.1f} TiB"


@click.command()
@click.option("--older-than", help="Move versions closed before now minus this (90d, 12w, 6m, 2y).")
@click.option(
    "--now",
    "now",
    help="The date to count from (ISO date or timestamp, UTC; default: now). "
    "For demos and tests on old data.",
)
@click.option(
    "--table",
    "tables",
    multiple=True,
    help="Only this table (repeatable; default: all history tables).",
)
@click.option(
    "--storage-class",
    type=click.Choice(["STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE"], case_sensitive=False),
    help="GCS storage class of new objects (default: $SESSION_BACKUP_COLD_STORAGE_CLASS or COLDLINE); "
    "also the price a local cold folder is estimated at.",
)
@click.option(
    "--prices",
    "prices_path",
    type=click.Path(dir_okay=False),
    help="Prices file for the cost estimate (default: $SESSION_BACKUP_PRICES, ./prices.toml, "
    "or the packaged one).",
)
@click.option(
    "--dry-run", is_flag=True, help="Only report what would move and the estimated cost change."
)
@click.option(
    "--check",
    is_flag=True,
    help="Move nothing: check every cold file (present, size, SHA-256), "
    "download gs:// files into the local cache and re-attach the cold views.",
)
@click.option(
    "--wait", is_flag=True, help="If a backup is running, wait for it instead of stopping."
)
@pass_context
def tier(
    ctx: Context,
    older_than: str | None,
    now: str | None,
    tables: tuple[str, ...],
    storage_class: str | None,
    prices_path: str | None,
    dry_run: bool,
    check: bool,
    wait: bool,
) -> None:
    """Move old History versions to cold Parquet storage; restores still read them.

    Versions closed before the threshold leave the hot history_<table> tables for zstd
    Parquet files under the cold root (SESSION_BACKUP_COLD_ROOT: a folder, default data/cold,
    or gs://bucket/prefix), one file per table, scope and closed month, recorded in
    backup.cold_manifest. Safe to interrupt and re-run.

    \b
    Examples:
      session-backup tier --older-than 90d --dry-run
      session-backup --json tier --older-than 90d --now 2024-12-31
      SESSION_BACKUP_COLD_ROOT=gs://my-bucket/cold session-backup tier --older-than 90d --storage-class ARCHIVE
      session-backup tier --check
    """
    from session_backup.cold import check_cold
    from session_backup.cold import tier as run_tier

    if check:
        if older_than or dry_run:
            raise click.UsageError("--check moves nothing: give it without --older-than/--dry-run.")
        report = check_cold(ctx.settings)
        ctx.emit(
            report,
            f"{report['checked']} cold file(s) checked ({_size(report['cold_bytes'])}), "
            f"{len(report['fetched'])} fetched into the cache, "
            f"{len(report['views_refreshed'])} view(s) re-attached: all good",
        )
        return
    if not older_than:
        raise click.UsageError("Give --older-than, e.g. --older-than 90d (or --check).")
    summary = run_tier(
        ctx.settings,
        older_than,
        now=now,
        dry_run=dry_run,
        tables=tables,
        storage_class=storage_class,
        prices_path=prices_path,
        wait=wait,
        progress=_BarProgress(ctx),
    )
    moved = summary["moved"]
    cost = summary["monthly_storage_cost"]
    verb = "would move" if dry_run else "moved"
    lines = [
        (
            f"{verb} {moved['rows']} History versions closed before {summary['cutoff_date']} "
            f"into {moved['files']} file(s) under {summary['cold_root']}"
        )
    ]
    for table, entry in moved["by_table"].items():
        lines.append(
            f"  {table}: {entry['rows']} rows, {entry['files']} file(s), "
            f"{_size(entry['hot_logical_bytes'])} hot -> "
            + (
                "~" + _size(int(entry["hot_logical_bytes"] * 0.3))
                if dry_run
                else _size(entry["cold_bytes"])
            )
            + " cold"
        )
    before, after = summary["bytes"]["before"], summary["bytes"]["after"]
    lines.append(
        f"bytes: hot {_size(before['hot_logical'])} + cold {_size(before['cold'])} -> "
        f"hot {_size(after['hot_logical'])} + cold {_size(after['cold'])}"
        + (" (cold estimated)" if summary.get("cold_bytes_estimated") else "")
    )
    lines.append(
        f"estimated storage per month: {cost['before']['total_usd']:.4f} -> {cost['after']['total_usd']:.4f} "
        f"{cost['currency']} (prices: {summary['prices_file']})"
    )
    for refused in summary["refused"]:
        lines.append(f"NOT TIERED {refused['table']}: {refused['reason']}")
    ctx.emit(summary, "\n".join(lines))
    if summary["refused"]:
        sys.exit(EXIT_PROBLEM)  # the other tables moved; these stay hot until the reason is fixed


@click.command()
@click.option(
    "--table", "tables", multiple=True, help="Only this table (repeatable; default: all)."
)
@click.option(
    "--scope", "scopes", multiple=True, help="Only this scope (repeatable; default: all)."
)
@click.option(
    "--month",
    "months",
    multiple=True,
    help="Closed month YYYY-MM or range YYYY-MM..YYYY-MM (repeatable; default: all).",
)
@click.option(
    "--delete-files",
    is_flag=True,
    help="Delete the cold files once their rows are hot again (default: keep them, released).",
)
@click.option("--dry-run", is_flag=True, help="Only list the files that would come back.")
@click.option(
    "--wait", is_flag=True, help="If a backup is running, wait for it instead of stopping."
)
@pass_context
def rehydrate(
    ctx: Context,
    tables: tuple[str, ...],
    scopes: tuple[str, ...],
    months: tuple[str, ...],
    delete_files: bool,
    dry_run: bool,
    wait: bool,
) -> None:
    """Bring cold History back into the hot tables.

    The chosen files' rows are checked (SHA-256, row count) and inserted into history_<table>
    in the same transaction that takes them out of the cold manifest, so no restore ever sees
    them twice or not at all. A later `tier` moves them out again if they are still old.

    \b
    Examples:
      session-backup rehydrate --table orders --scope VN --month 2024-01
      session-backup rehydrate --month 2024-01..2024-06 --delete-files
    """
    from session_backup.cold import rehydrate as run_rehydrate

    summary = run_rehydrate(
        ctx.settings,
        tables=tables,
        scopes=scopes,
        months=months,
        delete_files=delete_files,
        dry_run=dry_run,
        wait=wait,
        progress=_BarProgress(ctx),
    )
    verb = "would bring back" if dry_run else "brought back"
    lines = [f"{verb} {summary['rows']} History versions from {len(summary['files'])} cold file(s)"]
    for item in summary["files"]:
        lines.append(
            f"  {item['table']} {item['scope']} {item['closed_month']}: {item['rows']} rows  {item['file']}"
        )
    for item in summary.get("kept_under_retention", []):
        lines.append(f"  kept (retention): {item['uri']} until {item['until']}")
    ctx.emit(summary, "\n".join(lines))


@click.command()
@click.option("--keep", required=True, help="Retention window, e.g. 2y, 18m, 400d.")
@click.option(
    "--now", "now", help="The date to count from (ISO date or timestamp, UTC; default: now)."
)
@click.option(
    "--hold",
    "holds",
    multiple=True,
    metavar="SESSION_ID",
    help="Keep this session restorable whatever its age (repeatable; remembered in backup_holds).",
)
@click.option(
    "--hold-file",
    "hold_files",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="A file of session ids to hold, one per line (# comments allowed).",
)
@click.option(
    "--release",
    "releases",
    multiple=True,
    metavar="SESSION_ID",
    help="Remove a remembered hold (the session is pruned if it is outside the window).",
)
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
@click.option(
    "--wait", is_flag=True, help="If a backup is running, wait for it instead of stopping."
)
@pass_context
def prune(
    ctx: Context,
    keep: str,
    now: str | None,
    holds: tuple[str, ...],
    hold_files: tuple[str, ...],
    releases: tuple[str, ...],
    dry_run: bool,
    wait: bool,
) -> None:
    """Remove what no session inside the retention window (or on hold) needs.

    A History version whose closing session started before the window is needed only by
    sessions older than the window: it is deleted (hot rows, cold files or rows in them),
    unless a held session needs it. Sessions older than the window become `pruned` in
    `status` and `restore` refuses them clearly; each scope's last session before the window
    stays restorable (it is the state at the window's start). Objects under a GCS retention
    policy are kept and listed until they may be deleted.

    \b
    Examples:
      session-backup prune --keep 2y --dry-run
      session-backup prune --keep 2y --hold VN-20240101T000000 --hold-file legal-holds.txt
    """
    from session_backup.cold import prune as run_prune

    summary = run_prune(
        ctx.settings,
        keep,
        now=now,
        dry_run=dry_run,
        holds=holds,
        hold_files=hold_files,
        releases=releases,
        wait=wait,
        progress=_BarProgress(ctx),
    )
    verb = "would prune" if dry_run else "pruned"
    lines = [
        f"{verb} {summary['sessions_to_prune']} session(s) started before {summary['window_start'][:19]}"
    ]
    for scope, entry in summary["sessions_to_prune_by_scope"].items():
        lines.append(f"  {scope}: {entry['count']} session(s), {entry['first']} .. {entry['last']}")
    if summary["held_sessions"]:
        lines.append(f"held (kept restorable): {', '.join(summary['held_sessions'])}")
    removed = summary.get("hot_versions_removed", summary["hot_versions_to_remove"])
    lines.append(
        "hot History versions "
        + ("to remove" if dry_run else "removed")
        + ": "
        + (", ".join(f"{table} {count}" for table, count in removed.items()) or "none")
    )
    for item in summary["cold_files_to_delete"]:
        lines.append(
            f"  cold file {'to delete' if dry_run else 'deleted'}: {item['file']} ({item['rows']} rows)"
        )
    for item in summary["cold_files_to_rewrite"]:
        lines.append(
            f"  cold file {'to rewrite' if dry_run else 'rewritten'} without pruned rows: {item['file']}"
        )
    for item in summary.get("kept_under_retention", []):
        lines.append(
            f"  NOT deleted, under retention: {item['uri']} until {item['until']} "
            "(removed from the backup; a later prune deletes it)"
        )
    ctx.emit(summary, "\n".join(lines))
