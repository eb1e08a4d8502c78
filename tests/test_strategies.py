"""The classic strategies (full, incremental, differential) and the dbt snapshot baseline restore
every session exactly through the same `restore_<table>` / `checksum_<table>` functions and
`session-backup verify` as Head/History, and survive `dbt build --full-refresh`.

Each test declares one strategy on a hand-made landing inside a private copy of the project
(scripts/bench_project.py); the repo's own declarations stay `history`. The stream has a keyed
table and a keyless one with duplicates, a delete and re-insert, A -> B -> A, -0.0 / NaN / NULL /
'' / 'NULL' values, an empty session, two scopes, and batches that cross checkpoints.
"""

from __future__ import annotations

import math
import struct
import sys
from collections import Counter
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from bench_project import Deployment, make_project

NAN = float("nan")
A = (1, "alpha", 1.5, "x")
B = (1, "beta", 1.5, "x")  # A -> B -> A on key 1
ITEM_2 = (2, "", None, "NULL")
ITEM_3 = (3, None, 0.0, "")
ITEM_3_NEG = (3, None, -0.0, "")
ITEM_4 = (4, "nan", NAN, None)
X, Y, Z = ("x", 1.0), ("y", -0.0), ("z", None)

# session -> (items, events); scope VN gets 10 sessions, DE 3.
VN_STREAM = [
    ([A, ITEM_2, ITEM_3], [X, X, Y]),
    ([A, ITEM_2, ITEM_3], [X, X, Y]),  # unchanged
    ([A, ITEM_3], [X, Y]),  # delete key 2; one duplicate fewer
    ([A, ITEM_2, ITEM_3], [X, X, X, Y]),  # re-insert key 2 as it was
    ([B, ITEM_2, ITEM_3], []),  # A -> B; keyless table empty
    ([A, ITEM_2, ITEM_3_NEG, ITEM_4], [Y, Y]),  # B -> A; 0.0 -> -0.0; NaN row
    ([A, ITEM_2, ITEM_3, ITEM_4], [X, Y, Z, Z]),
    ([], [X]),  # items empty
    ([A, ITEM_2, ITEM_3], [X, X]),
    ([A, ITEM_2, ITEM_3, ITEM_4], [X, X, Y, Y, Z]),
]
DE_STREAM = [
    ([A, ITEM_3], [Z, Z, Z]),
    ([B, ITEM_3], [Z, Z]),
    ([A, ITEM_3_NEG], [Z, Z, Z]),
]
# Sessions released per `dbt build` (the snapshot baseline takes one per run whatever this says).
WAVES = [4, 2, 1, 6]
TABLES = {"items": {"key": ["item_id"]}, "events": {}}


def _sessions() -> list[tuple[str, str, str, list, list]]:
    """(session_id, scope, started_at, items, events) in landing order, scopes interleaved."""
    sessions = []
    for index, (items, events) in enumerate(VN_STREAM):
        sessions.append((f"VN-{index:02d}", "VN", f"2024-01-01 {index:02d}:00:00", items, events))
    for index, (items, events) in enumerate(DE_STREAM):
        sessions.append((f"DE-{index:02d}", "DE", f"2024-01-01 {index:02d}:30:00", items, events))
    return sorted(sessions, key=lambda session: session[2])


def _land(landing_db: Path, sessions: list) -> None:
    with duckdb.connect(str(landing_db)) as con:
        con.execute(
            "create table if not exists sessions (session_id varchar, scope varchar, "
            "started_at timestamp, status varchar)"
        )
        con.execute(
            "create table if not exists items (session_id varchar, item_id bigint, name varchar, "
            "weight double, note varchar)"
        )
        con.execute(
            "create table if not exists events (session_id varchar, kind varchar, amount double)"
        )
        for session_id, scope, started_at, items, events in sessions:
            con.execute(
                "insert into sessions values (?, ?, ?, 'succeeded')",
                [session_id, scope, started_at],
            )
            for row in items:
                con.execute("insert into items values (?, ?, ?, ?, ?)", [session_id, *row])
            for row in events:
                con.execute("insert into events values (?, ?, ?)", [session_id, *row])


def _canonical(value: object) -> object:
    """Floats compared bit for bit (so -0.0 != 0.0), every NaN equal to every NaN."""
    if isinstance(value, float):
        return ("nan",) if math.isnan(value) else ("float", struct.pack(">d", value))
    return value


def _multiset(rows: list[tuple]) -> Counter:
    return Counter(tuple(_canonical(value) for value in row) for row in rows)


def _assert_restores_exactly(deployment: Deployment, session_ids: list[str]) -> None:
    with duckdb.connect(str(deployment.backup_db), read_only=True) as con:
        con.execute(f"attach '{deployment.landing_db}' as landing (read_only)")
        for table in TABLES:
            columns = [row[0] for row in con.execute(f"describe landing.main.{table}").fetchall()]
            for session_id in session_ids:
                restored = con.execute(
                    f"select * from backup.backup.restore_{table}($1)", [session_id]
                )
                restored_columns = [description[0] for description in restored.description]
                restored_rows = restored.fetchall()
                assert restored_columns == columns, (table, session_id)
                landed = con.execute(
                    f"select * from landing.main.{table} where session_id = $1", [session_id]
                ).fetchall()
                assert _multiset(restored_rows) == _multiset(landed), (table, session_id)
                # The same check in SQL, EXCEPT ALL both ways (NaN = NaN there; -0.0 via the text form).
                differences = con.execute(
                    f"""
                    with restored as (select *, cast(columns(* exclude (session_id)) as varchar)
                                      from backup.backup.restore_{table}($1)),
                         landed as (select *, cast(columns(* exclude (session_id)) as varchar)
                                    from landing.main.{table} where session_id = $1)
                    select count(*) from (
                        (select * from restored except all select * from landed)
                        union all
                        (select * from landed except all select * from restored)
                    )
                    """,
                    [session_id],
                ).fetchone()[0]
                assert differences == 0, (table, session_id)


def _verify(deployment: Deployment) -> None:
    result = deployment.cli("verify", "--all")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 mismatch(es)" in result.stdout


def _backup(deployment: Deployment, strategy: str, *extra: str) -> None:
    """One backup run; the snapshot baseline takes one session per run, so it runs until
    nothing is pending."""
    deployment.dbt("build", "--quiet", *extra).check()
    while strategy == "snapshot" and _pending(deployment):
        deployment.dbt("build", "--quiet").check()


def _pending(deployment: Deployment) -> int:
    with duckdb.connect(str(deployment.backup_db), read_only=True) as con:
        con.execute(f"attach '{deployment.landing_db}' as landing (read_only)")
        return con.execute(
            "select count(*) from landing.main.sessions where session_id not in "
            "(select session_id from backup.backup.backup_manifest)"
        ).fetchone()[0]


@pytest.mark.parametrize("strategy", ["full", "incremental", "differential", "snapshot"])
def test_strategy_restores_every_session_exactly(tmp_path: Path, strategy: str) -> None:
    project = make_project(tmp_path / "project", strategy, checkpoint_every=3, tables=TABLES)
    deployment = Deployment(project, tmp_path / "backup.duckdb", tmp_path / "landing.duckdb")
    sessions = _sessions()
    landed: list[str] = []
    position = 0
    for wave in WAVES:
        batch = sessions[position : position + wave]
        position += wave
        _land(deployment.landing_db, batch)
        landed += [session[0] for session in batch]
        _backup(deployment, strategy)
        _assert_restores_exactly(deployment, landed)
    assert position == len(sessions)
    _verify(deployment)

    # --full-refresh rebuilds working tables only: every session still restores and verifies,
    # and the next session continues the chain.
    _backup(deployment, strategy, "--full-refresh")
    _assert_restores_exactly(deployment, landed)
    extra = ("VN-99", "VN", "2024-01-02 00:00:00", [B, ITEM_2, ITEM_3_NEG], [X, X, Z])
    _land(deployment.landing_db, [extra])
    _backup(deployment, strategy)
    _assert_restores_exactly(deployment, landed + ["VN-99"])
    _verify(deployment)

    if strategy in ("incremental", "differential"):
        # Checkpoints came every 3 sessions of a scope, whatever the batch boundaries.
        with duckdb.connect(str(deployment.backup_db), read_only=True) as con:
            checkpoints = con.execute(
                f"select distinct backup_scope, session_seq from backup.backup.{strategy}_items "
                "where session_seq = backup_checkpoint_seq order by 1 desc, 2"
            ).fetchall()
        assert checkpoints == [("VN", 1), ("VN", 4), ("VN", 7), ("VN", 10), ("DE", 1)]


def test_unknown_session_is_an_error_not_an_empty_table(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", "incremental", tables=TABLES)
    deployment = Deployment(project, tmp_path / "backup.duckdb", tmp_path / "landing.duckdb")
    _land(deployment.landing_db, _sessions()[:2])
    _backup(deployment, "incremental")
    with (
        duckdb.connect(str(deployment.backup_db), read_only=True) as con,
        pytest.raises(duckdb.Error, match="no backup of table items"),
    ):
        con.execute("select * from backup.backup.restore_items('nope')").fetchall()
