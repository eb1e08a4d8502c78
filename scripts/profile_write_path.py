#!/usr/bin/env python3
"""Profile the Head/History write path on the bench's landing stream, node by node.

    python scripts/profile_write_path.py --prefix 50 --singles 3     # steady state after 50 sessions
    python scripts/profile_write_path.py --catchup 100                # one run over 100 pending sessions
    python scripts/profile_write_path.py --strategy snapshot --work /tmp/profile_snapshot  # the baseline

A private project copy (scripts/bench_project.py, strategy `history`) backs up the first
`--prefix` sessions in one run and keeps a copy of that backup database; each measured run starts
from that copy, so runs can be repeated (`--reuse`; a change to the package's macros backs the
prefix up again, since the restore functions' digest covers their code and every run from an
older copy would rebuild the functions). Per run it prints the wall
time of `session-backup backup` (in-process, as the CLI runs it), the SQL time of every node, and
the plain-copy insert of the same session into a database file (as the bench's floor, timed in the
same process, side by side). `--strategy snapshot` measures the dbt snapshot baseline the same way
(`dbt build`, one session per run, the prefix too), so both are measured in one machine state.
Peak RSS of the catch-up is sampled by psutil from a parent process.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "src"))

# Generated model names carry the prefix (var session_backup_prefix, default backup_).
NODE_PREFIXES = tuple(
    f"backup_{kind}"
    for kind in ("checksums_", "changes_", "history_", "head_", "commit", "snapshot_")
)


def plain_insert_seconds(
    landing_db: Path, session_id: str, memory_limit: str, copy_db: Path
) -> float:
    """The floor: insert one session's rows of every landing table into plain copies, in a
    database file as the bench does (the write to disk is most of it)."""
    import duckdb

    for path in (copy_db, Path(str(copy_db) + ".wal")):
        path.unlink(missing_ok=True)
    with duckdb.connect(str(copy_db)) as con:
        if memory_limit:
            con.execute(f"set memory_limit = '{memory_limit}'")
        con.execute(f"attach '{landing_db}' as landing (read_only)")
        tables = [
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables where table_catalog = 'landing' "
                "and table_name <> 'sessions' order by 1"
            ).fetchall()
        ]
        for table in tables:
            con.execute(
                f"create table copy_{table} as select * from landing.main.{table} where false"
            )
        started = time.perf_counter()
        for table in tables:
            con.execute(
                f"insert into copy_{table} select * from landing.main.{table} where session_id = $1",
                [session_id],
            )
        return time.perf_counter() - started


def _macros_digest() -> str:
    """What the restore functions' digest sees of the code: every macro file of the package."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted((REPO / "macros").rglob("*.sql")):
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _same_macros(marker: Path) -> bool:
    return marker.exists() and marker.read_text() == _macros_digest()


def run_backup(deployment, strategy: str = "history") -> tuple[float, dict[str, float]]:
    """`session-backup backup` in this process (lock, dbt build without invariant tests, run log);
    the baseline: `dbt build`, as the bench runs it."""
    if strategy != "history":
        run = deployment.dbt("build", "--quiet")
        if not run.ok:
            raise SystemExit("dbt build failed: " + "; ".join(run.errors))
        return run.seconds, run.nodes
    from session_backup.backup import run_backup as backup
    from session_backup.config import load_settings

    with deployment.environment():
        settings = load_settings(deployment.project)
        started = time.perf_counter()
        result = backup(settings)
        seconds = time.perf_counter() - started
    if not result.succeeded:
        raise SystemExit("backup failed: " + "; ".join(result.errors))
    return seconds, result.node_timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--landing-db", default="/tmp/session_backup_bench/landing_sf0.1_n100_VN_seed1.duckdb"
    )
    parser.add_argument("--work", default="/tmp/session_backup_profile")
    parser.add_argument(
        "--prefix", type=int, default=50, help="sessions backed up before the measured runs"
    )
    parser.add_argument(
        "--singles", type=int, default=3, help="single-session runs measured after the prefix"
    )
    parser.add_argument(
        "--catchup", type=int, default=0, help="instead: one run over this many pending sessions"
    )
    parser.add_argument("--memory-limit", default="1GB")
    parser.add_argument(
        "--strategy",
        default="history",
        choices=["history", "snapshot"],
        help="history (session-backup backup) or the dbt snapshot baseline (one session per run)",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="reuse the prefix backup already in --work (backed up again if the package's macros "
        "changed since: the restore functions' digest covers them, so every measured run would "
        "rebuild the functions)",
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--rss-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")

    if args.catchup and not args.rss_child:
        return catchup_with_rss(args, argv or sys.argv[1:])

    from bench import landing_sessions, release
    from bench_project import Deployment, make_project

    work = Path(args.work)
    landing_db = Path(args.landing_db)
    session_ids = landing_sessions(landing_db)
    project = work / "project"
    saved = work / f"backup_after_{args.prefix}.duckdb"
    backup_db = work / "backup.duckdb"
    if not args.reuse or not project.exists():
        shutil.rmtree(project, ignore_errors=True)
        settings = {"memory_limit": args.memory_limit} if args.memory_limit else None
        make_project(project, args.strategy, duckdb_settings=settings)
    else:
        # The package is installed as a link to the repository, so its macros are current;
        # the generated models may have changed since: generate again.
        from bench_project import generate

        generate(project)
    deployment = Deployment(project, backup_db, landing_db)
    report: dict = {"runs": []}

    if args.catchup:
        backup_db.unlink(missing_ok=True)
        release(landing_db, None)
        release(landing_db, session_ids[: args.catchup])
        seconds, nodes = run_backup(deployment, args.strategy)
        report["runs"].append(
            {"kind": "catchup", "sessions": args.catchup, "wall_seconds": seconds, "nodes": nodes}
        )
    else:
        code_marker = saved.with_suffix(".macros")
        if args.reuse and saved.exists() and not _same_macros(code_marker):
            print(
                "the package's macros changed since the saved prefix: backing it up again",
                file=sys.stderr,
            )
            saved.unlink()
        if not (args.reuse and saved.exists()):
            backup_db.unlink(missing_ok=True)
            release(landing_db, None)
            if args.strategy == "snapshot":  # a snapshot sees one state per run
                started = time.perf_counter()
                for position in range(1, args.prefix + 1):
                    release(landing_db, session_ids[position - 1 : position])
                    run_backup(deployment, args.strategy)
                seconds = time.perf_counter() - started
            else:
                release(landing_db, session_ids[: args.prefix])
                seconds, _ = run_backup(deployment)
            print(f"prefix of {args.prefix} sessions backed up in {seconds:.1f} s", file=sys.stderr)
            shutil.copy(backup_db, saved)
            code_marker.write_text(_macros_digest())
        for index in range(args.singles):
            shutil.copy(saved, backup_db)
            Path(str(backup_db) + ".wal").unlink(missing_ok=True)
            release(landing_db, None)
            position = args.prefix + (index % 1)  # the same next session each time: comparable runs
            release(landing_db, session_ids[: position + 1])
            seconds, nodes = run_backup(deployment, args.strategy)
            plain = plain_insert_seconds(
                landing_db, session_ids[position], args.memory_limit, work / "plain_copy.duckdb"
            )
            report["runs"].append(
                {
                    "kind": "single",
                    "session": session_ids[position],
                    "wall_seconds": seconds,
                    "plain_insert_seconds": plain,
                    "nodes": nodes,
                }
            )
    release(landing_db, None)

    for run in report["runs"]:
        own = {
            name: value for name, value in run["nodes"].items() if name.startswith(NODE_PREFIXES)
        }
        run["sql_seconds"] = sum(own.values())
        if args.json:
            continue
        line = f"{run['kind']}: wall {run['wall_seconds']:.2f} s, SQL of the backup's nodes {run['sql_seconds']:.2f} s"
        if "plain_insert_seconds" in run:
            line += f", plain insert {run['plain_insert_seconds']:.2f} s ({run['sql_seconds'] / run['plain_insert_seconds']:.2f}x)"
        print(line)
        for name, value in sorted(run["nodes"].items(), key=lambda item: -item[1])[:12]:
            print(f"    {value:7.3f}  {name}")
    if args.json:
        print(json.dumps(report))
    return 0


def catchup_with_rss(args: argparse.Namespace, argv: list[str]) -> int:
    import psutil

    process = subprocess.Popen([sys.executable, __file__, *argv, "--rss-child"])
    watched = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss)
        except psutil.Error:
            pass
        time.sleep(0.05)
    print(f"peak RSS {peak / 2**20:.0f} MB")
    return process.returncode


if __name__ == "__main__":
    sys.exit(main())
