#!/usr/bin/env python3
"""Benchmark every backup strategy against a plain copy of one session, on this machine.

    python scripts/bench.py                 # SF 0.1, 100 sessions, 1 scope (the default run)
    python scripts/bench.py --quick         # SF 0.01, 20 sessions: a smoke run (~3 min)
    python scripts/bench.py --multi-scope   # also a smaller 3-scope scenario
    python scripts/bench.py --strategies history,snapshot --report docs/bench/write-path.md
                                            # the write path against its baseline, one report file

Data: the TPC-H session stream of scripts/generate_landing.py (~0.3 % churn per session).
Each strategy (history = Head/History, the default; full; incremental; differential; and the dbt
snapshot baseline) is declared on the same landing tables inside a private copy of the project
(scripts/bench_project.py) with its own backup database, and driven by `dbt build` in-process
(dbtRunner) inside a worker process whose peak RSS the parent samples with psutil.

Measured per strategy, in the same run:
- steady state: sessions are released one per `dbt build` in windows at the start, middle and end
  of the stream (catch-up batches in between); per session: wall time of the build, and the SQL
  time of the strategy's own nodes (sum of dbt's per-node `execution_time`);
- catch-up: all N sessions pending, one `dbt build` (the snapshot baseline cannot: its catch-up
  is N sequential runs, which is what its steady state does, one session per run);
- rows and bytes stored after n sessions. Bytes: each stored table exported to Parquet (zstd)
  and the files' sizes summed (DuckDB's own per-table sizes are not reliable);
- restore time (create a table from restore_<table>(session) for every table) at several ages;
- dbt's fixed per-invocation cost: a `dbt build` with nothing pending;
- back-testing on the history catch-up backup (measure_backtest, results.json "backtest"): one
  multi-session restore vs a plain-copy select and vs one restore per session, diff vs restoring
  both sessions and comparing, export to Parquet vs a plain copy to Parquet.
The floor: a plain copy (`insert into copy select * from landing where session_id = ?`, and
`create table as select * from copy where session_id = ?` to restore), timed in SQL.

Outputs in docs/bench/ (or --out): results.json (raw), sessions.csv, restores.csv, storage.csv,
summary.csv, results.md (the table + targets) and three PNG plots. The markdown is printed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

STRATEGIES = ("history", "full", "incremental", "differential", "snapshot")
STORED_PREFIXES = {
    "history": ("head_", "history_"),
    "full": ("full_",),
    "incremental": ("incremental_",),
    "differential": ("differential_",),
    "snapshot": ("snapshot_",),
}
# The strategies' own dbt nodes: generated model names carry the prefix (var session_backup_prefix).
NODE_PREFIXES = tuple(
    f"backup_{kind}"
    for kind in (
        "checksums_",
        "changes_",
        "history_",
        "head_",
        "commit",
        "full_",
        "incremental_",
        "differential_",
        "snapshot_",
    )
)
WINDOW = 3  # single-session runs per steady-state window
REUSED: list[str] = []  # workers whose results --resume took from an earlier run
RESTORE_POINTS = 6  # session ages at which restores are timed


# --------------------------------------------------------------------------------------------
# Landing


def landing_sessions(landing_db: Path) -> list[str]:
    import duckdb

    with duckdb.connect(str(landing_db), read_only=True) as con:
        return [
            row[0]
            for row in con.execute(
                "select session_id from sessions order by started_at, session_id"
            ).fetchall()
        ]


def release(landing_db: Path, session_ids: list[str] | None) -> None:
    """Mark sessions succeeded (None: mark every session running again)."""
    import duckdb

    with duckdb.connect(str(landing_db)) as con:
        if session_ids is None:
            con.execute("update sessions set status = 'running'")
        elif session_ids:
            con.execute(
                "update sessions set status = 'succeeded' where session_id in (select unnest($1))",
                [session_ids],
            )
        con.execute("checkpoint")


def prepare_landing(
    work: Path, scale_factor: float, sessions: int, scopes: str, seed: int
) -> tuple[Path, dict]:
    tag = f"sf{scale_factor:g}_n{sessions}_{scopes.replace(',', '-')}_seed{seed}"
    landing_db = work / f"landing_{tag}.duckdb"
    summary_file = landing_db.with_suffix(".json")
    if landing_db.exists() and summary_file.exists():
        return landing_db, json.loads(summary_file.read_text())
    log(f"generating landing {tag} ...")
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts/generate_landing.py"),
            "--landing-db",
            str(landing_db),
            "--scale-factor",
            str(scale_factor),
            "--scopes",
            scopes,
            "--sessions",
            str(sessions),
            "--seed",
            str(seed),
            "--overwrite",
            "--status",
            "running",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    summary = json.loads(result.stdout)
    summary["generate_seconds"] = round(time.perf_counter() - started, 1)
    summary_file.write_text(json.dumps(summary))
    return landing_db, summary


# --------------------------------------------------------------------------------------------
# Measurements shared by the workers


def export_bytes_elsewhere(
    database: Path, strategy: str, directory: Path, memory_limit: str
) -> tuple[int, int]:
    """export_bytes in a separate process: exporting is measurement, not backup work, and must
    not count in the worker's peak RSS (the parent samples the worker process only)."""
    result = subprocess.run(
        [
            sys.executable,
            __file__,
            "--worker",
            "export",
            "--strategy",
            strategy,
            "--landing-db",
            str(database),
            "--work",
            str(directory),
            "--worker-out",
            "-",
            "--memory-limit",
            memory_limit,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    rows, size = json.loads(result.stdout.strip().splitlines()[-1])
    return rows, size


def worker_export(args: argparse.Namespace) -> tuple[int, int]:
    import duckdb

    with duckdb.connect(args.landing_db, read_only=True) as con:
        if args.memory_limit:
            con.execute(f"set memory_limit = '{args.memory_limit}'")
        if args.strategy == "plain":
            relations = [
                row[0]
                for row in con.execute(
                    "select table_name from information_schema.tables where table_name like 'copy_%' order by 1"
                ).fetchall()
            ]
        else:
            relations = stored_relations(con, args.strategy)
        return export_bytes(con, relations, Path(args.work))


def export_bytes(con, relations: list[str], directory: Path) -> tuple[int, int]:
    """Rows and Parquet (zstd) bytes of the given relations."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = total = 0
    for relation in relations:
        path = directory / (relation.split(".")[-1].strip('"') + ".parquet")
        con.execute(
            f"copy (select * from {relation}) to '{path}' (format parquet, compression zstd)"
        )
        total += path.stat().st_size
        rows += con.execute(f"select count(*) from {relation}").fetchone()[0]
        path.unlink()
    return rows, total


def stored_relations(con, strategy: str) -> list[str]:
    names = [
        row[0]
        for row in con.execute(
            "select table_name from information_schema.tables where table_schema = 'backup' order by 1"
        ).fetchall()
    ]
    return [f"backup.backup.{name}" for name in names if name.startswith(STORED_PREFIXES[strategy])]


def restore_points(count: int) -> list[int]:
    """1-based session positions from the oldest to the newest."""
    if count <= RESTORE_POINTS:
        return list(range(1, count + 1))
    return sorted(
        {round(1 + index * (count - 1) / (RESTORE_POINTS - 1)) for index in range(RESTORE_POINTS)}
    )


def timed_restores(
    con, make_sql, tables: list[str], session_ids: list[str], positions: list[int]
) -> list[dict]:
    """Best of two: create a table from the restore of every table of a session."""
    results = []
    for position in positions:
        session_id = session_ids[position - 1]
        best = None
        rows = 0
        for _ in range(2):
            started = time.perf_counter()
            rows = 0
            for table in tables:
                con.execute(
                    f"create or replace temp table restored_{table} as {make_sql(table)}",
                    [session_id],
                )
                rows += con.execute(f"select count(*) from restored_{table}").fetchone()[0]
            elapsed = time.perf_counter() - started
            best = elapsed if best is None else min(best, elapsed)
        for table in tables:
            con.execute(f"drop table if exists restored_{table}")
        results.append(
            {
                "position": position,
                "age": len(session_ids) - position,
                "session_id": session_id,
                "seconds": round(best, 4),
                "rows": rows,
            }
        )
    return results


# --------------------------------------------------------------------------------------------
# Workers (run in a subprocess each, so their peak RSS is theirs alone)


def worker_plain(args: argparse.Namespace) -> dict:
    import duckdb

    landing_db = Path(args.landing_db)
    session_ids = landing_sessions(landing_db)
    copy_db = Path(args.work) / "plain" / "copy.duckdb"
    shutil.rmtree(copy_db.parent, ignore_errors=True)
    copy_db.parent.mkdir(parents=True)
    con = duckdb.connect(str(copy_db))
    if args.memory_limit:
        con.execute(f"set memory_limit = '{args.memory_limit}'")
    con.execute(f"attach '{landing_db}' as landing (read_only)")
    tables = [
        row[0]
        for row in con.execute(
            "select table_name from information_schema.tables where table_catalog = 'landing' "
            "and table_name <> 'sessions' order by 1"
        ).fetchall()
    ]
    for table in tables:
        con.execute(f"create table copy_{table} as select * from landing.main.{table} where false")
    sessions = []
    storage = []
    checkpoints = {1, len(session_ids)}  # copies grow linearly; exporting them is the slow part
    for position, session_id in enumerate(session_ids, start=1):
        started = time.perf_counter()
        for table in tables:
            con.execute(
                f"insert into copy_{table} select * from landing.main.{table} where session_id = $1",
                [session_id],
            )
        sessions.append(
            {
                "position": position,
                "session_id": session_id,
                "sql_seconds": round(time.perf_counter() - started, 4),
            }
        )
        if position == 1 or position in checkpoints:
            con.execute("checkpoint")
            con.close()
            rows, size = export_bytes_elsewhere(
                copy_db, "plain", copy_db.parent / "export", args.memory_limit
            )
            storage.append({"sessions": position, "rows": rows, "bytes": size})
            con = duckdb.connect(str(copy_db))
            if args.memory_limit:
                con.execute(f"set memory_limit = '{args.memory_limit}'")
            con.execute(f"attach '{landing_db}' as landing (read_only)")
    restores = timed_restores(
        con,
        lambda table: f"select * from copy_{table} where session_id = $1",
        tables,
        session_ids,
        restore_points(len(session_ids)),
    )
    con.close()
    one_session = storage[0]
    return {
        "strategy": "plain",
        "sessions": sessions,
        "storage": storage,
        "restores": restores,
        "one_session_bytes": one_session["bytes"],
        "one_session_rows": one_session["rows"],
        "tables": tables,
    }


def _deployment(args: argparse.Namespace, phase: str):
    from bench_project import Deployment, make_project

    root = Path(args.work) / args.strategy / phase
    shutil.rmtree(root, ignore_errors=True)
    settings = {"memory_limit": args.memory_limit} if args.memory_limit else None
    project = make_project(
        root / "project",
        args.strategy,
        checkpoint_every=args.checkpoint_every,
        duckdb_settings=settings,
    )
    return Deployment(project, root / "backup.duckdb", Path(args.landing_db))


def _backup(deployment, strategy: str):
    """One backup run. history (the product): what `session-backup backup` runs, in-process
    (lock, `dbt build` without the invariant tests that read all of History, the run log);
    the baselines: `dbt build`, as an analytics engineer would run them."""
    if strategy != "history":
        return deployment.dbt("build", "--quiet").check()
    sys.path.insert(0, str(REPO / "src"))
    from bench_project import DbtRun

    from session_backup.backup import run_backup
    from session_backup.config import load_settings

    with deployment.environment():
        started = time.perf_counter()
        result = run_backup(load_settings(deployment.project))
        seconds = time.perf_counter() - started
    return DbtRun(
        ok=result.succeeded, seconds=seconds, nodes=result.node_timings, errors=result.errors
    ).check()


def _run_record(run, position_from: int, position_to: int) -> dict:
    strategy_nodes = {
        name: seconds for name, seconds in run.nodes.items() if name.startswith(NODE_PREFIXES)
    }
    other_nodes = {
        name: seconds for name, seconds in run.nodes.items() if not name.startswith(NODE_PREFIXES)
    }
    return {
        "from": position_from,
        "to": position_to,
        "sessions": position_to - position_from + 1,
        "wall_seconds": round(run.seconds, 4),
        "sql_seconds": round(sum(strategy_nodes.values()), 4),
        "other_node_seconds": round(sum(other_nodes.values()), 4),
        "nodes": {name: round(seconds, 4) for name, seconds in run.nodes.items()},
    }


def worker_steady(args: argparse.Namespace) -> dict:
    """Windows of single-session runs at the start, middle and end, batches in between; the
    snapshot baseline runs every session on its own (that is what it can do)."""
    import duckdb

    deployment = _deployment(args, "steady")
    landing_db = Path(args.landing_db)
    session_ids = landing_sessions(landing_db)
    count = len(session_ids)
    release(landing_db, None)
    if args.strategy == "snapshot" or args.every_session:
        singles = set(range(1, count + 1))
    else:
        middle = max(WINDOW + 1, count // 2 - WINDOW // 2)
        singles = (
            set(range(1, WINDOW + 1))
            | set(range(middle, middle + WINDOW))
            | set(range(count - WINDOW + 1, count + 1))
        )
    runs: list[dict] = []
    storage: list[dict] = []
    # Full copies grow linearly and are slow to export: first and last point only.
    storage_points = (
        {1, count} if args.strategy == "full" else set(restore_points(count)) | {1, count}
    )
    position = 1
    while position <= count:
        if position in singles:
            last = position
        else:
            last = position
            while last + 1 <= count and last + 1 not in singles:
                last += 1
        release(landing_db, session_ids[position - 1 : last])
        run = _backup(deployment, args.strategy)
        record = _run_record(run, position, last)
        record["kind"] = "single" if position == last and position in singles else "batch"
        runs.append(record)
        log(
            f"  {args.strategy} steady {position}-{last}: {run.seconds:.2f}s wall, {record['sql_seconds']:.2f}s sql"
        )
        if any(position <= point <= last for point in storage_points) or last == count:
            rows, size = export_bytes_elsewhere(
                deployment.backup_db,
                args.strategy,
                deployment.backup_db.parent / "export",
                args.memory_limit,
            )
            storage.append({"sessions": last, "rows": rows, "bytes": size})
        position = last + 1
    # dbt's fixed cost: a build with nothing pending.
    idle = [_backup(deployment, args.strategy) for _ in range(2)]
    idle_record = _run_record(min(idle, key=lambda run: run.seconds), 0, -1)
    with duckdb.connect(str(deployment.backup_db), read_only=True) as con:
        tables = [
            row[0]
            for row in con.execute(
                "select distinct table_name from backup.backup.backup_manifest order by 1"
            ).fetchall()
        ]
        restores = timed_restores(
            con,
            lambda table: f"select * from backup.backup.restore_{table}($1)",
            tables,
            session_ids,
            restore_points(count),
        )
    verify = deployment.cli("verify", "--all")
    return {
        "strategy": args.strategy,
        "runs": runs,
        "storage": storage,
        "restores": restores,
        "idle_run": idle_record,
        "verify_exit_code": verify.returncode,
        "verify_output": verify.stdout.strip().splitlines()[:1],
    }


def worker_catchup(args: argparse.Namespace) -> dict:
    deployment = _deployment(args, "catchup")
    landing_db = Path(args.landing_db)
    session_ids = landing_sessions(landing_db)
    release(landing_db, None)
    release(landing_db, session_ids)
    run = _backup(deployment, args.strategy)
    record = _run_record(run, 1, len(session_ids))
    log(
        f"  {args.strategy} catch-up of {len(session_ids)}: {run.seconds:.2f}s wall, {record['sql_seconds']:.2f}s sql"
    )
    if args.strategy != "history":  # history's is measured again by measure_backtest
        shutil.rmtree(deployment.backup_db.parent, ignore_errors=True)
    return {"strategy": args.strategy, "run": record}


def measure_backtest(
    backup_db: Path, landing_db: Path, memory_limit: str, sessions: int | None = None
) -> dict:
    """Back-testing on the history backup against the floor, on the first `sessions` sessions of
    the first scope (default: all of them, N of the landing): one multi-session restore vs a
    plain-copy select of the same rows and vs one restore per session; diff vs restoring both
    sessions and comparing them (neighbours and the farthest pair); export to Parquet vs a plain
    copy of the same rows to Parquet (one file per table and session, as the export writes)."""
    import dataclasses
    import tempfile

    from session_backup import backtest
    from session_backup.config import load_settings
    from session_backup.warehouse import DuckDBWarehouse

    settings = dataclasses.replace(load_settings(REPO), backup_db=backup_db, landing_db=landing_db)
    warehouse = DuckDBWarehouse(settings, read_only=False)
    con = warehouse.connection
    if memory_limit:
        con.execute(f"set memory_limit = '{memory_limit}'")
    tables = [
        row[0]
        for row in con.execute(
            "select distinct table_name from backup.backup.backup_manifest order by 1"
        ).fetchall()
    ]
    scope = con.execute("select min(scope) from backup.backup.backup_sessions").fetchone()[0]
    chosen = backtest.sessions_between(warehouse, scope, None, None, tables)[:sessions]
    ids = [session.session_id for session in chosen]
    con.execute("create schema if not exists bench_backtest")
    log(f"  back-testing on {len(ids)} sessions of scope {scope}, tables {', '.join(tables)}")

    def timed(work) -> float:
        started = time.perf_counter()
        work()
        return round(time.perf_counter() - started, 4)

    def each_table(sql: str, **params) -> None:
        for table in tables:
            con.execute(sql.format(table=table), params)

    def singles() -> None:
        each_table(
            "create or replace table bench_backtest.single_{table} as "
            "select * from backup.backup.restore_{table}($id) limit 0",
            id=ids[0],
        )
        for session_id in ids:
            each_table(
                "insert into bench_backtest.single_{table} select * from backup.backup.restore_{table}($id)",
                id=session_id,
            )

    def compare(from_id: str, to_id: str) -> None:
        each_table(
            "select count(*) from ((select * exclude (session_id) from backup.backup.restore_{table}($a) except all "
            "select * exclude (session_id) from backup.backup.restore_{table}($b)) union all "
            "(select * exclude (session_id) from backup.backup.restore_{table}($b) except all "
            "select * exclude (session_id) from backup.backup.restore_{table}($a)))",
            a=from_id,
            b=to_id,
        )

    def diff(from_id: str, to_id: str) -> None:
        each_table("select count(*) from backup.backup.diff_{table}($a, $b)", a=from_id, b=to_id)

    def plain_parquet(folder: Path) -> None:
        for table in tables:
            for index, session_id in enumerate(ids):
                literal = "'" + session_id.replace("'", "''") + "'"
                con.execute(
                    f"copy (select * from landing.main.{table} where session_id = {literal}) "
                    f"to '{folder}/{table}_{index}.parquet' (format parquet, compression zstd)"
                )

    def drop(prefix: str) -> None:  # the tables a measurement made, so the file stays small
        each_table(f"drop table if exists bench_backtest.{prefix}_{{table}}")

    result: dict[str, Any] = {"sessions": len(ids), "scope": scope, "tables": tables}
    result["restore_many_seconds"] = timed(
        lambda: each_table(
            "create or replace table bench_backtest.many_{table} as select * from backup.backup.restore_{table}_sessions($ids)",
            ids=ids,
        )
    )
    result["restored_rows"] = sum(
        con.execute(f"select count(*) from bench_backtest.many_{table}").fetchone()[0]
        for table in tables
    )
    drop("many")
    # The plain select's floor: `list_contains` measured faster here than a semi-join on
    # `session_id in (select unnest(ids))` (docs/bench/backtest.md).
    result["plain_select_seconds"] = timed(
        lambda: each_table(
            "create or replace table bench_backtest.plain_{table} as select * from landing.main.{table} "
            "where list_contains($ids, session_id)",
            ids=ids,
        )
    )
    drop("plain")
    result["restore_singles_seconds"] = timed(singles)
    drop("single")
    for label, (from_id, to_id) in {
        "neighbours": (ids[-2], ids[-1]),
        "farthest": (ids[0], ids[-1]),
    }.items():
        result[f"diff_{label}_seconds"] = timed(lambda a=from_id, b=to_id: diff(a, b))
        result[f"compare_{label}_seconds"] = timed(lambda a=from_id, b=to_id: compare(a, b))
    with tempfile.TemporaryDirectory(dir=backup_db.parent) as folder:
        timings: dict[str, float] = {}
        result["export_seconds"] = timed(
            lambda: backtest.export_sessions(
                warehouse, chosen, tables, f"{folder}/export", timings=timings
            )
        )
        result["export_phases_seconds"] = {name: round(value, 4) for name, value in timings.items()}
        Path(folder, "plain").mkdir()
        # One COPY per table and session: a partitioned COPY per table measured ~9x slower
        # under the 1 GB limit (DuckDB buffers ~0.5M rows per open partition and spills).
        result["plain_parquet_seconds"] = timed(lambda: plain_parquet(Path(folder, "plain")))
    warehouse.close()
    result["ratios"] = {
        "restore_many_vs_plain_select": round(
            result["restore_many_seconds"] / result["plain_select_seconds"], 2
        ),
        "singles_vs_restore_many": round(
            result["restore_singles_seconds"] / result["restore_many_seconds"], 2
        ),
        "compare_vs_diff_neighbours": round(
            result["compare_neighbours_seconds"] / result["diff_neighbours_seconds"], 2
        ),
        "compare_vs_diff_farthest": round(
            result["compare_farthest_seconds"] / result["diff_farthest_seconds"], 2
        ),
        "export_vs_plain_parquet": round(
            result["export_seconds"] / result["plain_parquet_seconds"], 2
        ),
    }
    return result


def backtest_targets(backtest: dict) -> list[tuple[str, bool | None, str]]:
    """The back-testing targets, from measure_backtest's figures of one run."""
    ratios = backtest["ratios"]
    n = backtest["sessions"]
    return [
        (
            f"restore of {n} sessions in one call <= 1.3x a plain-copy select of the same sessions",
            ratios["restore_many_vs_plain_select"] <= 1.3,
            (
                f"{ratios['restore_many_vs_plain_select']}x ({backtest['restore_many_seconds']:.2f} s vs "
                f"{backtest['plain_select_seconds']:.2f} s, {backtest.get('restored_rows', 0):,} rows)"
            ),
        ),
        (
            f"restore of {n} sessions in one call >= 5x faster than {n} single-session restores",
            ratios["singles_vs_restore_many"] >= 5,
            (
                f"{ratios['singles_vs_restore_many']}x ({backtest['restore_singles_seconds']:.2f} s vs "
                f"{backtest['restore_many_seconds']:.2f} s)"
            ),
        ),
        (
            "diff of neighbouring sessions >= 10x faster than restoring both and comparing",
            ratios["compare_vs_diff_neighbours"] >= 10,
            (
                f"{ratios['compare_vs_diff_neighbours']}x ({backtest['diff_neighbours_seconds']:.3f} s vs "
                f"{backtest['compare_neighbours_seconds']:.2f} s)"
            ),
        ),
        (
            f"diff {n - 1} sessions apart no slower than restoring both and comparing",
            ratios["compare_vs_diff_farthest"] >= 1,
            (
                f"{ratios['compare_vs_diff_farthest']}x ({backtest['diff_farthest_seconds']:.3f} s vs "
                f"{backtest['compare_farthest_seconds']:.2f} s)"
            ),
        ),
        (
            f"export of {n} sessions to Parquet <= 1.5x a plain copy of the same rows to Parquet",
            ratios["export_vs_plain_parquet"] <= 1.5,
            f"{ratios['export_vs_plain_parquet']}x ({backtest['export_seconds']:.2f} s vs "
            f"{backtest['plain_parquet_seconds']:.2f} s; export phases "
            + ", ".join(
                f"{name} {seconds:.2f} s"
                for name, seconds in backtest.get("export_phases_seconds", {}).items()
            )
            + ")",
        ),
    ]


def backtest_markdown(backtest: dict, meta: dict) -> str:
    """The report of a back-testing-only run (`--only backtest`)."""
    lines = [
        f"# Back-testing, measured ({meta['date']})",
        "",
        (
            f"TPC-H session stream, SF {meta['scale_factor']}, {backtest['sessions']} sessions of scope "
            f"{backtest['scope']} (tables {', '.join(backtest['tables'])}), on the history backup of one "
            f"catch-up run. Machine: {meta['cpus']} CPUs, DuckDB {meta['duckdb']}. DuckDB memory_limit "
            f"{meta['duckdb_memory_limit']}. Command: `{meta['command']}`."
        ),
        *([f"Note: {meta['note']}", ""] if meta.get("note") else []),
        "",
        "## Targets",
        "",
    ]
    for name, ok, detail in backtest_targets(backtest):
        lines.append(f"- **{'PASS' if ok else 'MISS'}** {name}: {detail}")
    lines += ["", "## Seconds, as measured", ""]
    for name, value in backtest.items():
        if name.endswith("_seconds") and isinstance(value, (int, float)):
            lines.append(f"- {name.removesuffix('_seconds')}: {value:.3f}")
    lines += [
        "",
        (
            "Method: each figure is one timed run, every table in the backup. Restore of N sessions: "
            "`create table as select * from restore_<t>_sessions(ids)`; plain: the same from landing; singles: `insert into ... select * from restore_<t>(id)` per "
            "session. Diff: `count(*)` of `diff_<t>(a, b)`; compare: `count(*)` of both `except all` ways between "
            "`restore_<t>(a)` and `restore_<t>(b)`. Export: `session-backup export`'s function (one file per table "
            "and session, SHA-256 and manifest included); plain: one `copy (select ... where session_id = ...) "
            "to ... (format parquet, compression zstd)` per table and session."
        ),
    ]
    return "\n".join(lines)


def backtest_only(args: argparse.Namespace) -> str:
    """`--only backtest`: the history catch-up backup of the landing, then measure_backtest on
    it; nothing else of the bench runs."""
    import duckdb

    started = time.perf_counter()
    landing_db, landing = prepare_landing(
        Path(args.work), args.scale_factor, args.sessions, args.scopes, args.seed
    )
    catchup_db = Path(args.work) / "history" / "catchup" / "backup.duckdb"
    if not (args.resume and catchup_db.exists()):
        log("history: catch-up backup ...")
        args.resume = False  # the worker's backup must be this one
        run_worker(args, "catchup", "history", landing_db)
    release(landing_db, None)
    log("history: back-testing (many sessions, diff, export) ...")
    backtest = measure_backtest(catchup_db, landing_db, args.memory_limit, args.sessions)
    log(f"  back-testing ratios: {backtest['ratios']}")
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "scale_factor": args.scale_factor,
        "cpus": os.cpu_count(),
        "duckdb": duckdb.__version__,
        "duckdb_memory_limit": args.memory_limit or "default (80 % of RAM)",
        "bench_minutes": round((time.perf_counter() - started) / 60, 1),
        "landing": landing,
        "command": "python scripts/bench.py "
        + " ".join(f'"{part}"' if " " in part else part for part in sys.argv[1:]),
    }
    if args.note:
        meta["note"] = args.note
    text = backtest_markdown(backtest, meta)
    if args.report:
        report = Path(args.report)
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(text + "\n")
        checks = [
            {"target": name, "pass": ok, "detail": detail}
            for name, ok, detail in backtest_targets(backtest)
        ]
        report.with_suffix(".json").write_text(
            json.dumps({"meta": meta, "backtest": backtest, "targets": checks}, indent=1)
        )
    return text


WORKERS = {
    "plain": worker_plain,
    "steady": worker_steady,
    "catchup": worker_catchup,
    "export": worker_export,
}


def run_worker(args: argparse.Namespace, phase: str, strategy: str, landing_db: Path) -> dict:
    """Runs one worker process; returns its JSON with `peak_rss_bytes` sampled by psutil."""
    import psutil

    out = Path(args.work) / f"worker_{strategy}_{phase}.json"
    if args.resume and out.exists():
        log(f"  (reusing {out.name})")
        REUSED.append(f"{strategy}/{phase}")
        return json.loads(out.read_text())
    command = [
        sys.executable,
        __file__,
        "--worker",
        phase,
        "--strategy",
        strategy,
        "--landing-db",
        str(landing_db),
        "--work",
        str(args.work),
        "--checkpoint-every",
        str(args.checkpoint_every),
        "--worker-out",
        str(out),
        "--memory-limit",
        args.memory_limit,
    ]
    if args.every_session:
        command.append("--every-session")
    process = subprocess.Popen(command, cwd=REPO)
    peak = 0
    watched = psutil.Process(process.pid)
    while process.poll() is None:
        try:
            # The worker process only: its children are Parquet exports and `session-backup verify`.
            peak = max(peak, watched.memory_info().rss)
        except psutil.Error:
            pass
        time.sleep(0.05)
    if process.returncode != 0:
        raise SystemExit(f"bench worker {strategy}/{phase} failed (exit {process.returncode})")
    result = json.loads(out.read_text())
    result["peak_rss_bytes"] = peak
    out.write_text(json.dumps(result))
    return result


# --------------------------------------------------------------------------------------------
# Report


def summarize(results: dict) -> list[dict]:
    plain = results["plain"]
    plain_insert = statistics.median(session["sql_seconds"] for session in plain["sessions"])
    plain_restores = {restore["position"]: restore["seconds"] for restore in plain["restores"]}
    count = len(plain["sessions"])
    full_bytes = None
    if "full" in results["strategies"]:
        full_bytes = results["strategies"]["full"]["steady"]["storage"][-1]["bytes"]
    elif plain["storage"][-1]["sessions"] == count:
        full_bytes = plain["storage"][-1]["bytes"]  # N plain copies: what `full` stores
    snapshot_per_session = None
    snapshot_wall_per_session = None
    snapshot_total = None
    if "snapshot" in results["strategies"]:
        snapshot_runs = results["strategies"]["snapshot"]["steady"]["runs"]
        snapshot_per_session = statistics.median(run["sql_seconds"] for run in snapshot_runs)
        snapshot_wall_per_session = statistics.median(run["wall_seconds"] for run in snapshot_runs)
        snapshot_total = sum(run["wall_seconds"] for run in snapshot_runs)
    rows = []
    for strategy, data in results["strategies"].items():
        steady = data["steady"]
        singles = [run for run in steady["runs"] if run["kind"] == "single"]
        if strategy != "snapshot":
            singles = [
                run for run in singles if run["from"] > 1
            ]  # the very first session is a full load
        sql_values = [run["sql_seconds"] for run in singles] or [0.0]
        wall_values = [run["wall_seconds"] for run in singles] or [0.0]
        thirds = _thirds(singles)
        stored = steady["storage"][-1]
        restores = steady["restores"]
        ratios = [restore["seconds"] / plain_restores[restore["position"]] for restore in restores]
        catchup = data.get("catchup")
        if catchup is not None:
            catchup_seconds = catchup["run"]["wall_seconds"]
            catchup_sql = catchup["run"]["sql_seconds"]
        else:  # the snapshot baseline: N sequential runs
            catchup_seconds = sum(run["wall_seconds"] for run in steady["runs"])
            catchup_sql = sum(run["sql_seconds"] for run in steady["runs"])
        peak = max(data["steady"]["peak_rss_bytes"], (catchup or {}).get("peak_rss_bytes", 0))
        rows.append(
            {
                "strategy": strategy,
                "sessions": count,
                "stored_rows": stored["rows"],
                "stored_bytes": stored["bytes"],
                "bytes_pct_of_full": None
                if not full_bytes
                else round(100.0 * stored["bytes"] / full_bytes, 3),
                "bytes_in_plain_sessions": round(stored["bytes"] / plain["one_session_bytes"], 2),
                "backup_sql_s_per_session": round(statistics.median(sql_values), 3),
                "backup_sql_ratio_to_plain_insert": round(
                    statistics.median(sql_values) / plain_insert, 2
                ),
                "backup_wall_s_per_session": round(statistics.median(wall_values), 3),
                "backup_sql_first_mid_last_third": thirds,
                "catchup_wall_s": round(catchup_seconds, 2),
                "catchup_sql_s": round(catchup_sql, 2),
                "restore_s_oldest": restores[0]["seconds"],
                "restore_s_middle": restores[len(restores) // 2]["seconds"],
                "restore_s_newest": restores[-1]["seconds"],
                "restore_ratio_max": round(max(ratios), 2),
                "restore_ratio_min": round(min(ratios), 2),
                "peak_rss_mb": round(peak / 2**20),
                "dbt_idle_build_s": steady["idle_run"]["wall_seconds"],
                "verify_exit_code": steady["verify_exit_code"],
                "speedup_vs_snapshot_per_session": None
                if not snapshot_per_session
                else round(snapshot_per_session / max(statistics.median(sql_values), 1e-9), 1),
                "catchup_speedup_vs_snapshot_runs": None
                if not snapshot_total
                else round(snapshot_total / catchup_seconds, 1),
                "backup_wall_ratio_to_snapshot_wall": None
                if not snapshot_wall_per_session
                else round(statistics.median(wall_values) / snapshot_wall_per_session, 2),
                # N single-session runs of this strategy, estimated as N x the median single run.
                "catchup_speedup_vs_single_runs": None
                if catchup is None
                else round(count * statistics.median(wall_values) / max(catchup_seconds, 1e-9), 1),
            }
        )
    return rows


def _thirds(singles: list[dict]) -> list[float]:
    """Median SQL seconds per session of the start, middle and end windows."""
    if not singles:
        return []
    windows: list[list[float]] = [[], [], []]
    last = max(run["to"] for run in singles)
    for run in singles:
        windows[min(2, int(3 * (run["to"] - 1) / max(last, 1)))].append(run["sql_seconds"])
    return [round(statistics.median(window), 3) if window else None for window in windows]


def targets(summary: list[dict], results: dict) -> list[tuple[str, bool | None, str]]:
    by = {row["strategy"]: row for row in summary}
    history = by.get("history")
    out: list[tuple[str, bool | None, str]] = []
    if history is None:
        return out
    plain_restores = {
        restore["position"]: restore["seconds"] for restore in results["plain"]["restores"]
    }
    history_restores = results["strategies"]["history"]["steady"]["restores"]
    restore_ratios = [
        restore["seconds"] / plain_restores[restore["position"]] for restore in history_restores
    ]
    spread = max(restore["seconds"] for restore in history_restores) / max(
        min(restore["seconds"] for restore in history_restores), 1e-9
    )
    thirds = [value for value in history["backup_sql_first_mid_last_third"] if value]
    growth = max(thirds) / max(min(thirds), 1e-9) if thirds else 0
    if history["bytes_pct_of_full"] is not None:
        out.append(
            (
                "history stored bytes <= 1.5 % of full's",
                history["bytes_pct_of_full"] <= 1.5,
                f"{history['bytes_pct_of_full']} %",
            )
        )
    out.append(
        (
            "history restore <= 1.3x plain-copy restore at every age",
            max(restore_ratios) <= 1.3,
            "ratios " + ", ".join(f"{ratio:.2f}" for ratio in restore_ratios) + " (oldest..newest)",
        )
    )
    out.append(
        ("history restore flat across age (max/min <= 1.5)", spread <= 1.5, f"max/min {spread:.2f}")
    )
    out.append(
        (
            "history steady-state backup <= 1.0x plain-copy insert",
            history["backup_sql_ratio_to_plain_insert"] <= 1.0,
            f"{history['backup_sql_ratio_to_plain_insert']}x (SQL of its nodes vs the insert)",
        )
    )
    out.append(
        (
            "history backup flat in N (last/first window <= 1.5)",
            growth <= 1.5,
            f"windows {history['backup_sql_first_mid_last_third']} s",
        )
    )
    if history["backup_wall_ratio_to_snapshot_wall"] is not None:
        snapshot = by["snapshot"]
        out.append(
            (
                "history wall per session (`session-backup backup`, dbt incl.) <= dbt snapshot's",
                history["backup_wall_ratio_to_snapshot_wall"] <= 1.0,
                (
                    f"{history['backup_wall_s_per_session']:.2f} s vs {snapshot['backup_wall_s_per_session']:.2f} s "
                    f"({history['backup_wall_ratio_to_snapshot_wall']}x)"
                ),
            )
        )
        out.append(
            (
                "catch-up of N in one run >= 10x faster than N snapshot runs",
                history["catchup_speedup_vs_snapshot_runs"] >= 10,
                f"{history['catchup_speedup_vs_snapshot_runs']}x (wall time, dbt included)",
            )
        )
    if history["catchup_speedup_vs_single_runs"] is not None:
        out.append(
            (
                "catch-up of N in one run >= 3x faster than N single-session runs of the backup",
                history["catchup_speedup_vs_single_runs"] >= 3,
                (
                    f"{history['catchup_speedup_vs_single_runs']}x ({history['catchup_wall_s']:.1f} s against N x "
                    f"{history['backup_wall_s_per_session']:.2f} s, the median single run)"
                ),
            )
        )
    if "backtest" in results:
        out.extend(backtest_targets(results["backtest"]))
    peak = max(row["peak_rss_mb"] for row in summary)
    out.append(
        (
            "peak RSS <= 2 GB (every strategy)",
            peak <= 2048,
            ", ".join(f"{row['strategy']} {row['peak_rss_mb']} MB" for row in summary),
        )
    )
    return out


def markdown(results: dict, summary: list[dict], checks: list) -> str:
    meta = results["meta"]
    plain = results["plain"]
    plain_insert = statistics.median(session["sql_seconds"] for session in plain["sessions"])
    lines = [
        f"# Backup strategies, measured ({meta['date']})",
        "",
        (
            f"TPC-H session stream, SF {meta['scale_factor']}, {meta['sessions']} sessions, scopes {meta['scopes']}, "
            f"{meta['landing_rows_per_session']:,} landing rows per session, churn {meta['churn_pct']} % per session "
            f"(orders+lineitem). Machine: {meta['cpus']} CPUs, DuckDB {meta['duckdb']}, dbt-core {meta['dbt']}. "
            f"incremental/differential checkpoint every {meta['checkpoint_every']} sessions. "
            f"DuckDB memory_limit {meta['duckdb_memory_limit']}. "
            f"Run took {meta['bench_minutes']} min."
            + (f" Command: `{meta['command']}`." if meta.get("command") else "")
            + (
                f" Resumed: {', '.join(meta['reused_workers'])} reused from an earlier invocation on the same "
                f"landing (the time above is this invocation's)."
                if meta.get("reused_workers")
                else ""
            )
        ),
        *([f"Note: {meta['note']}", ""] if meta.get("note") else []),
        "",
        (
            f"Floor (plain copy of one session): insert {plain_insert:.3f} s, stores "
            f"{plain['one_session_bytes'] / 2**20:.1f} MiB (Parquet zstd) and {plain['one_session_rows']:,} rows; "
            f"restore (create table from the copy) {statistics.median(r['seconds'] for r in plain['restores']):.3f} s."
        ),
        "dbt's fixed cost per `dbt build` (nothing pending): "
        + ", ".join(f"{row['strategy']} {row['dbt_idle_build_s']:.2f} s" for row in summary)
        + ".",
        "",
        (
            "| strategy | stored rows | stored MiB | % of full | x one session | backup s/session (SQL) | "
            "x plain insert | backup s/session (wall, dbt incl.) | SQL s start/mid/end | catch-up N (s) | "
            "restore s oldest/mid/newest | x plain restore (max) | peak RSS MB |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---:|---:|",
    ]
    for row in summary:
        thirds = "/".join(
            f"{value:.2f}" if value is not None else "-"
            for value in row["backup_sql_first_mid_last_third"]
        )
        lines.append(
            f"| {row['strategy']} | {row['stored_rows']:,} | {row['stored_bytes'] / 2**20:.1f} | "
            f"{row['bytes_pct_of_full'] if row['bytes_pct_of_full'] is not None else '-'} | "
            f"{row['bytes_in_plain_sessions']} | {row['backup_sql_s_per_session']:.3f} | "
            f"{row['backup_sql_ratio_to_plain_insert']} | {row['backup_wall_s_per_session']:.2f} | {thirds} | "
            f"{row['catchup_wall_s']:.1f}{' (N runs)' if row['strategy'] == 'snapshot' else ''} | "
            f"{row['restore_s_oldest']:.3f}/{row['restore_s_middle']:.3f}/{row['restore_s_newest']:.3f} | "
            f"{row['restore_ratio_max']} | {row['peak_rss_mb']} |"
        )
    lines += ["", "## Targets (history = Head/History, the default)", ""]
    for name, ok, detail in checks:
        lines.append(f"- **{'PASS' if ok else 'MISS'}** {name}: {detail}")
    lines += [
        "",
        "## Where the time goes (median seconds per node, single-session runs after the first)",
        "",
    ]
    for strategy, data in results["strategies"].items():
        singles = [
            run
            for run in data["steady"]["runs"]
            if run["kind"] == "single" and (run["from"] > 1 or strategy == "snapshot")
        ]
        names = sorted({name for run in singles for name in run["nodes"]})
        medians = (
            {
                name: statistics.median(run["nodes"].get(name, 0.0) for run in singles)
                for name in names
            }
            if singles
            else {}
        )
        top = sorted(medians.items(), key=lambda item: -item[1])[:6]
        lines.append(
            f"- {strategy}: " + ", ".join(f"{name} {seconds:.3f}" for name, seconds in top)
        )
    lines += [
        "",
        (
            "Method: backup s/session (SQL) is the median, over single-session runs after the first, of the summed "
            "dbt `execution_time` of the strategy's own nodes (checksums, changes, history/head, or the strategy's "
            "table, or the snapshot); wall adds dbt's parse/compile/hooks. Stored bytes: each stored table exported "
            "to Parquet with zstd, file sizes summed (bookkeeping tables backup_sessions/backup_manifest excluded, "
            "they are the same for every strategy). Restores: best of two, every table of the session, "
            "`create table as select * from restore_<table>(session)`. Peak RSS: psutil, sampled every 50 ms, "
            "worker process (dbt + DuckDB in-process; Parquet exports run in another process)."
        ),
    ]
    return "\n".join(lines)


def plots(results: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plain = results["plain"]
    figure, axis = plt.subplots(figsize=(7, 4.5))
    axis.plot(
        [p["sessions"] for p in plain["storage"]],
        [p["bytes"] / 2**20 for p in plain["storage"]],
        "k--",
        label="plain copies",
    )
    for strategy, data in results["strategies"].items():
        storage = data["steady"]["storage"]
        axis.plot(
            [p["sessions"] for p in storage],
            [p["bytes"] / 2**20 for p in storage],
            marker="o",
            label=strategy,
        )
    axis.set_xlabel("sessions backed up")
    axis.set_ylabel("stored MiB (Parquet zstd)")
    axis.set_yscale("log")
    axis.set_title("Stored bytes vs sessions")
    axis.legend()
    figure.tight_layout()
    figure.savefig(out / "stored_bytes_vs_sessions.png", dpi=110)
    plt.close(figure)

    figure, axis = plt.subplots(figsize=(7, 4.5))
    axis.plot(
        [r["age"] for r in plain["restores"]],
        [r["seconds"] for r in plain["restores"]],
        "k--",
        label="plain copy",
    )
    for strategy, data in results["strategies"].items():
        restores = data["steady"]["restores"]
        axis.plot(
            [r["age"] for r in restores],
            [r["seconds"] for r in restores],
            marker="o",
            label=strategy,
        )
    axis.set_xlabel("session age (sessions newer than it)")
    axis.set_ylabel("restore seconds (all tables)")
    axis.set_title("Restore time vs session age")
    axis.legend()
    figure.tight_layout()
    figure.savefig(out / "restore_time_vs_age.png", dpi=110)
    plt.close(figure)

    figure, axis = plt.subplots(figsize=(7, 4.5))
    axis.plot(
        [s["position"] for s in plain["sessions"]],
        [s["sql_seconds"] for s in plain["sessions"]],
        "k.",
        label="plain insert",
        alpha=0.5,
    )
    for strategy, data in results["strategies"].items():
        singles = [run for run in data["steady"]["runs"] if run["kind"] == "single"]
        axis.plot(
            [run["to"] for run in singles],
            [run["sql_seconds"] for run in singles],
            marker="o",
            linestyle="",
            label=strategy,
        )
    axis.set_xlabel("session number N")
    axis.set_ylabel("backup seconds for that session (SQL of its nodes)")
    axis.set_yscale("log")
    axis.set_title("Backup time per session vs N")
    axis.legend()
    figure.tight_layout()
    figure.savefig(out / "backup_time_vs_n.png", dpi=110)
    plt.close(figure)


def write_outputs(results: dict, summary: list[dict], checks: list, out: Path, suffix: str) -> str:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"results{suffix}.json").write_text(
        json.dumps(
            {
                **results,
                "summary": summary,
                "targets": [
                    {"target": name, "pass": ok, "detail": detail} for name, ok, detail in checks
                ],
            },
            indent=1,
        )
    )
    with open(out / f"summary{suffix}.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(summary[0]))
        writer.writeheader()
        writer.writerows(summary)
    with open(out / f"sessions{suffix}.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "strategy",
                "kind",
                "from",
                "to",
                "sessions",
                "wall_seconds",
                "sql_seconds",
                "other_node_seconds",
            ]
        )
        for session in results["plain"]["sessions"]:
            writer.writerow(
                [
                    "plain",
                    "single",
                    session["position"],
                    session["position"],
                    1,
                    "",
                    session["sql_seconds"],
                    "",
                ]
            )
        for strategy, data in results["strategies"].items():
            for run in data["steady"]["runs"]:
                writer.writerow(
                    [
                        strategy,
                        run["kind"],
                        run["from"],
                        run["to"],
                        run["sessions"],
                        run["wall_seconds"],
                        run["sql_seconds"],
                        run["other_node_seconds"],
                    ]
                )
            if "catchup" in data:
                run = data["catchup"]["run"]
                writer.writerow(
                    [
                        strategy,
                        "catchup",
                        run["from"],
                        run["to"],
                        run["sessions"],
                        run["wall_seconds"],
                        run["sql_seconds"],
                        run["other_node_seconds"],
                    ]
                )
    with open(out / f"restores{suffix}.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["strategy", "position", "age", "session_id", "seconds", "rows"])
        for restore in results["plain"]["restores"]:
            writer.writerow(
                [
                    "plain",
                    restore["position"],
                    restore["age"],
                    restore["session_id"],
                    restore["seconds"],
                    restore["rows"],
                ]
            )
        for strategy, data in results["strategies"].items():
            for restore in data["steady"]["restores"]:
                writer.writerow(
                    [
                        strategy,
                        restore["position"],
                        restore["age"],
                        restore["session_id"],
                        restore["seconds"],
                        restore["rows"],
                    ]
                )
    with open(out / f"storage{suffix}.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["strategy", "sessions", "rows", "bytes"])
        for point in results["plain"]["storage"]:
            writer.writerow(["plain", point["sessions"], point["rows"], point["bytes"]])
        for strategy, data in results["strategies"].items():
            for point in data["steady"]["storage"]:
                writer.writerow([strategy, point["sessions"], point["rows"], point["bytes"]])
    text = markdown(results, summary, checks)
    (out / f"results{suffix}.md").write_text(text + "\n")
    if not suffix:
        plots(results, out)
    return text


def scenario(
    args: argparse.Namespace, scale_factor: float, sessions: int, scopes: str, suffix: str
) -> str:
    import dbt.version
    import duckdb

    started = time.perf_counter()
    landing_db, landing = prepare_landing(
        Path(args.work), scale_factor, sessions, scopes, args.seed
    )
    strategies = [strategy for strategy in args.strategies.split(",") if strategy]
    log(f"plain copy baseline ({landing_db.name}) ...")
    results: dict[str, Any] = {
        "plain": run_worker(args, "plain", "plain", landing_db),
        "strategies": {},
    }
    for strategy in strategies:
        log(f"{strategy}: steady state ...")
        data = {"steady": run_worker(args, "steady", strategy, landing_db)}
        if strategy != "snapshot" and not args.skip_catchup:
            log(f"{strategy}: catch-up ...")
            data["catchup"] = run_worker(args, "catchup", strategy, landing_db)
        results["strategies"][strategy] = data
    release(landing_db, None)
    catchup_db = Path(args.work) / "history" / "catchup" / "backup.duckdb"
    if "catchup" in results["strategies"].get("history", {}) and not catchup_db.exists():
        log("history: back-testing skipped (the catch-up backup is gone: a --resume of its worker)")
    elif "catchup" in results["strategies"].get("history", {}):
        log("history: back-testing (many sessions, diff, export) ...")
        results["backtest"] = measure_backtest(catchup_db, landing_db, args.memory_limit, sessions)
        log(f"  back-testing ratios: {results['backtest']['ratios']}")
    per_session_rows = sum(landing["rows"].values()) // max(1, sessions * len(scopes.split(",")))
    results["meta"] = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "scale_factor": scale_factor,
        "sessions": sessions * len(scopes.split(",")),
        "sessions_per_scope": sessions,
        "scopes": scopes,
        "landing_rows_per_session": per_session_rows,
        "churn_pct": landing.get("churn_pct", {}).get("orders+lineitem"),
        "cpus": os.cpu_count(),
        "duckdb": duckdb.__version__,
        "dbt": dbt.version.__version__,
        "checkpoint_every": args.checkpoint_every,
        "duckdb_memory_limit": args.memory_limit or "default (80 % of RAM)",
        "bench_minutes": round((time.perf_counter() - started) / 60, 1),
        "landing": landing,
        "reused_workers": list(REUSED),
    }
    results["meta"]["command"] = "python scripts/bench.py " + " ".join(
        f'"{part}"' if " " in part else part for part in sys.argv[1:]
    )
    if args.note:
        results["meta"]["note"] = args.note
    summary = summarize(results)
    checks = targets(summary, results)
    if args.report:
        # One report file (+ its raw JSON beside it), leaving the default run's outputs alone.
        report = Path(args.report).with_name(Path(args.report).stem + suffix + ".md")
        text = markdown(results, summary, checks)
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(text + "\n")
        report.with_suffix(".json").write_text(
            json.dumps(
                {
                    **results,
                    "summary": summary,
                    "targets": [
                        {"target": name, "pass": ok, "detail": detail}
                        for name, ok, detail in checks
                    ],
                },
                indent=1,
            )
        )
        return text
    return write_outputs(results, summary, checks, Path(args.out), suffix)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.split("\n")[1:6]),
    )
    parser.add_argument(
        "--sessions", type=int, default=100, help="sessions per scope (default %(default)s)"
    )
    parser.add_argument(
        "--scale-factor", type=float, default=0.1, help="TPC-H scale factor (default %(default)s)"
    )
    parser.add_argument(
        "--scopes",
        default="VN",
        help="comma-separated scopes of the main scenario (default %(default)s)",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: SF 0.01, 20 sessions")
    parser.add_argument(
        "--multi-scope",
        action="store_true",
        help="also run a smaller multi-scope scenario (SF/10, N/5 per scope, scopes VN,DE,FR)",
    )
    parser.add_argument(
        "--strategies", default=",".join(STRATEGIES), help="comma-separated (default: all)"
    )
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        default=10,
        help="incremental/differential (default %(default)s)",
    )
    parser.add_argument(
        "--every-session", action="store_true", help="steady state: one run per session throughout"
    )
    parser.add_argument("--skip-catchup", action="store_true", help="no separate catch-up run")
    parser.add_argument(
        "--memory-limit",
        default="1GB",
        help="DuckDB memory_limit for every strategy and the plain copy (default %(default)s; "
        "'' = DuckDB's default, 80 %% of RAM)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="reuse the per-strategy results already in --work (after an interrupted run)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--work",
        default=os.environ.get("BENCH_WORK_DIR", "/tmp/session_backup_bench"),
        help="scratch directory (landing is cached there; default %(default)s)",
    )
    parser.add_argument(
        "--out", default=str(REPO / "docs/bench"), help="results directory (default docs/bench)"
    )
    parser.add_argument(
        "--note", help="a sentence printed under the report's heading (how the run went)"
    )
    parser.add_argument(
        "--report",
        help="write only this markdown report (and its .json beside it), e.g. "
        "docs/bench/write-path.md with --strategies history,snapshot",
    )
    parser.add_argument(
        "--only",
        choices=["backtest"],
        help="run only this part: backtest = the history catch-up backup, then the back-testing "
        "measurements (many sessions, diff, export) with their targets; with --report, that file",
    )
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--strategy", help=argparse.SUPPRESS)
    parser.add_argument("--landing-db", help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        result = WORKERS[args.worker](args)
        if args.worker_out == "-":
            print(json.dumps(result))
        else:
            Path(args.worker_out).write_text(json.dumps(result))
        return 0
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    Path(args.work).mkdir(parents=True, exist_ok=True)
    if args.quick:
        args.scale_factor, args.sessions = 0.01, 20
        if args.out == str(REPO / "docs/bench"):
            args.out = str(Path(args.work) / "quick")
    if args.only == "backtest":
        print(backtest_only(args))
        return 0
    print(scenario(args, args.scale_factor, args.sessions, args.scopes, ""))
    if args.multi_scope:
        print()
        print(
            scenario(
                args,
                round(args.scale_factor / 10, 4),
                max(5, args.sessions // 5),
                "VN,DE,FR",
                "_multi_scope",
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
