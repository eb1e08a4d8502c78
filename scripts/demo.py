"""`make demo`: a realistic stream of sessions backed up, every one restored and verified
exactly, and what the backup stored against what full copies would have cost.

Runs on the embedded default (DuckDB files under integration_tests/data/), offline, in a few
minutes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
# The demo deployment: a dbt project that installs the package (integration_tests/).
PROJECT = ROOT / "integration_tests"
sys.path.insert(0, str(ROOT / "src"))

from session_backup.config import load_settings


def run(*args: str) -> None:
    print(f"\n$ {' '.join(args)}", flush=True)
    subprocess.run(args, check=True, cwd=ROOT)


def parquet_bytes(
    connection: duckdb.DuckDBPyConnection, query: str, folder: Path, name: str
) -> int:
    """Stored size measured the same way for both sides: Parquet, zstd."""
    path = folder / f"{name}.parquet"
    connection.execute(f"copy ({query}) to '{path}' (format parquet, compression zstd)")
    return path.stat().st_size


def exact_check(settings) -> tuple[int, int]:
    """Independent of `verify`: each restored table EXCEPT ALL landing, both ways, must be empty."""
    connection = duckdb.connect(str(settings.backup_db), read_only=True)
    connection.execute(f"attach '{settings.landing_db}' as landing (read_only)")
    catalog = connection.execute("select current_database()").fetchone()[0]
    pairs = connection.execute(
        f'select session_id, table_name from "{catalog}".backup.backup_manifest order by 1, 2'
    ).fetchall()
    bad = 0
    for session_id, table in pairs:
        restored = f'select * from "{catalog}".backup.restore_{table}($s)'
        landed = f'select * from landing.main."{table}" where session_id = $s'
        difference = connection.execute(
            f"select (select count(*) from ({restored} except all {landed})) "
            f"+ (select count(*) from ({landed} except all {restored}))",
            {"s": session_id},
        ).fetchone()[0]
        bad += difference > 0
    connection.close()
    return len(pairs), bad


def summary(settings) -> None:
    connection = duckdb.connect(str(settings.backup_db), read_only=True)
    connection.execute(f"attach '{settings.landing_db}' as landing (read_only)")
    catalog = connection.execute("select current_database()").fetchone()[0]
    tables = [
        row[0]
        for row in connection.execute(
            f'select distinct table_name from "{catalog}".backup.backup_manifest order by 1'
        ).fetchall()
    ]
    print("\nWhat was stored, against a full copy of every backed-up session (Parquet zstd bytes):")
    print(
        f"{'table':<28} {'landed rows':>12} {'stored rows':>12} {'full copies':>12} {'head+history':>12} {'ratio':>7}"
    )
    totals = [0, 0, 0, 0]
    with tempfile.TemporaryDirectory() as folder:
        for table in tables:
            landed = (
                f'select l.* from landing.main."{table}" as l '
                f'where l.session_id in (select session_id from "{catalog}".backup.backup_manifest '
                f"where table_name = '{table}')"
            )
            head = f'select * from "{catalog}".backup.head_{table}'
            history = f'select * from "{catalog}".backup.history_{table}'
            landed_rows = connection.execute(f"select count(*) from ({landed})").fetchone()[0]
            stored_rows = connection.execute(
                f"select (select count(*) from ({head})) + (select count(*) from ({history}))"
            ).fetchone()[0]
            full_bytes = parquet_bytes(connection, landed, Path(folder), f"full_{table}")
            stored_bytes = parquet_bytes(
                connection, head, Path(folder), f"head_{table}"
            ) + parquet_bytes(connection, history, Path(folder), f"history_{table}")
            for index, value in enumerate([landed_rows, stored_rows, full_bytes, stored_bytes]):
                totals[index] += value
            print(
                f"{table:<28} {landed_rows:>12,} {stored_rows:>12,} {full_bytes:>12,} {stored_bytes:>12,} "
                f"{stored_bytes / full_bytes:>7.2%}"
            )
    print(
        f"{'total':<28} {totals[0]:>12,} {totals[1]:>12,} {totals[2]:>12,} {totals[3]:>12,} "
        f"{totals[3] / totals[2]:>7.2%}"
    )
    connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scale-factor", default="0.02", help="TPC-H scale factor per scope (default 0.02)"
    )
    parser.add_argument("--scopes", default="VN,DE,US", help="countries (default VN,DE,US)")
    parser.add_argument(
        "--sessions", type=int, default=10, help="sessions per scope in the first wave (default 10)"
    )
    parser.add_argument(
        "--more", type=int, default=4, help="sessions per scope landed while 'down' (default 4)"
    )
    parser.add_argument("--no-summary", action="store_true", help="skip the size summary")
    args = parser.parse_args()

    os.environ.setdefault("SESSION_BACKUP_PROJECT_DIR", str(PROJECT))
    settings = load_settings(os.environ["SESSION_BACKUP_PROJECT_DIR"])
    settings.backup_db.parent.mkdir(parents=True, exist_ok=True)
    for stale in (settings.landing_db, settings.backup_db):
        stale.unlink(missing_ok=True)
        Path(str(stale) + ".wal").unlink(missing_ok=True)
    python = sys.executable
    cli = str(Path(python).parent / "session-backup")
    started = time.perf_counter()

    print(
        "1. Land a TPC-H session stream: refresh functions RF1/RF2, status updates, rare dimension edits."
    )
    run(
        python,
        "scripts/generate_landing.py",
        "--landing-db",
        str(settings.landing_db),
        "--overwrite",
        "--scale-factor",
        args.scale_factor,
        "--scopes",
        args.scopes,
        "--sessions",
        str(args.sessions),
        "--failed-every",
        "7",
    )
    print("\n2. Back up every succeeded session (one dbt build, set-based over the whole batch).")
    run(cli, "generate", "--check")
    run(cli, "backup")
    print("\n3. More sessions land while the backup is down; one run catches up on all of them.")
    run(
        python,
        "scripts/generate_landing.py",
        "--landing-db",
        str(settings.landing_db),
        "--append",
        "--sessions",
        str(args.more),
        "--failed-every",
        "7",
    )
    run(cli, "backup")
    run(
        cli, "backup", "--check-invariants"
    )  # idempotent: nothing new, nothing twice; invariants hold
    print("\n4. Status, then verify every table of every session from the backup alone.")
    run(cli, "status")
    run(cli, "verify", "--all")
    print(
        "\n5. Restore one session into its own schema, as someone explaining a past result would."
    )
    connection = duckdb.connect(str(settings.backup_db), read_only=True)
    catalog = connection.execute("select current_database()").fetchone()[0]
    oldest = connection.execute(
        f'select session_id from "{catalog}".backup.backup_sessions order by started_at limit 1'
    ).fetchone()[0]
    connection.close()
    run(cli, "restore", "--session", oldest, "--into", "restored_oldest")
    pairs, bad = exact_check(settings)
    print(
        f"\nIndependent check (restore EXCEPT ALL landing, both ways): {pairs} session tables, {bad} different."
    )
    if not args.no_summary:
        summary(settings)
    print(
        f"\nDemo finished in {time.perf_counter() - started:.0f}s. Explore: .venv/bin/session-backup --project-dir integration_tests status"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
