"""Tests of scripts/generate_landing.py: the landing contract and a realistic evolution.

Small on purpose (SF 0.01, 2 scopes, 4 sessions): a few seconds in all.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path

import duckdb
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "generate_landing.py"
SF = 0.01
RF_ORDERS = 15  # SF * 1500
SCOPES = ["VN", "DE"]
SESSIONS = 4
SEED = 7


def _load_module():
    spec = importlib.util.spec_from_file_location("generate_landing", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


gl = _load_module()


def _generate(path: Path, **kwargs) -> object:
    args: dict[str, object] = {
        "scale_factor": SF,
        "scopes": SCOPES,
        "sessions": SESSIONS,
        "seed": SEED,
    }
    args.update(kwargs)
    return gl.generate(path, **args)


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("landing") / "landing.duckdb"
    _generate(path)
    return path


@pytest.fixture
def con(landing: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect(str(landing), read_only=True) as c:
        yield c


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute(f"DESCRIBE {table}").fetchall()]


def _chain(con: duckdb.DuckDBPyConnection, scope: str) -> list[str]:
    """Session ids of one scope in started_at order."""
    rows = con.execute(
        "SELECT session_id FROM sessions WHERE scope = $s ORDER BY started_at", {"s": scope}
    ).fetchall()
    return [r[0] for r in rows]


def _diff(con: duckdb.DuckDBPyConnection, table: str, old: str, new: str) -> tuple[int, int]:
    """(rows only in new, rows only in old), as multisets, ignoring session_id."""
    sql = f"""
        SELECT (SELECT count(*) FROM (SELECT * EXCLUDE (session_id) FROM {table}
                                      WHERE session_id = $new
                                      EXCEPT ALL
                                      SELECT * EXCLUDE (session_id) FROM {table}
                                      WHERE session_id = $old)),
               (SELECT count(*) FROM (SELECT * EXCLUDE (session_id) FROM {table}
                                      WHERE session_id = $old
                                      EXCEPT ALL
                                      SELECT * EXCLUDE (session_id) FROM {table}
                                      WHERE session_id = $new))"""
    added, removed = con.execute(sql, {"old": old, "new": new}).fetchone()
    return added, removed


def _keys(con: duckdb.DuckDBPyConnection, sid: str) -> set[int]:
    rows = con.execute("SELECT o_orderkey FROM orders WHERE session_id = $s", {"s": sid})
    return {r[0] for r in rows.fetchall()}


# ----------------------------------------------------------------------------------------------
# Contract
# ----------------------------------------------------------------------------------------------


def test_sessions_contract(con: duckdb.DuckDBPyConnection) -> None:
    assert _columns(con, "sessions") == [
        ("session_id", "VARCHAR"),
        ("scope", "VARCHAR"),
        ("started_at", "TIMESTAMP"),
        ("status", "VARCHAR"),
    ]
    rows = con.execute("SELECT * FROM sessions ORDER BY started_at").fetchall()
    assert len(rows) == len(SCOPES) * SESSIONS
    assert len({r[0] for r in rows}) == len(rows)  # unique session ids
    assert {r[1] for r in rows} == set(SCOPES)
    assert {r[3] for r in rows} == {"succeeded"}
    # Scopes are interleaved in time; each scope's sessions are strictly ordered.
    assert [r[1] for r in rows[:4]] == ["VN", "DE", "VN", "DE"]
    for scope in SCOPES:
        times = [r[2] for r in rows if r[1] == scope]
        assert all(a < b for a, b in pairwise(times))


def test_session_id_is_first_column_and_tpch_types(con: duckdb.DuckDBPyConnection) -> None:
    for table in gl.LANDING_TABLES:
        cols = _columns(con, table)
        assert cols[0] == ("session_id", "VARCHAR"), table
        assert sum(1 for name, _ in cols if name == "session_id") == 1
    types = {t: dict(_columns(con, t)) for t in gl.STATE_TABLES}
    assert types["orders"]["o_orderkey"] == "BIGINT"
    assert types["orders"]["o_totalprice"] == "DECIMAL(15,2)"
    assert types["orders"]["o_orderdate"] == "DATE"
    assert types["lineitem"]["l_extendedprice"] == "DECIMAL(15,2)"
    assert types["lineitem"]["l_shipdate"] == "DATE"
    assert types["lineitem"]["l_linenumber"] == "INTEGER"
    assert types["customer"]["c_acctbal"] == "DECIMAL(15,2)"
    assert types["part"]["p_retailprice"] == "DECIMAL(15,2)"
    assert list(types["lineitem"])[1:4] == ["l_orderkey", "l_partkey", "l_suppkey"]


def test_every_session_lands_every_table(con: duckdb.DuckDBPyConnection) -> None:
    sids = {r[0] for r in con.execute("SELECT session_id FROM sessions").fetchall()}
    for table in gl.LANDING_TABLES:
        landed = {
            r[0]: r[1]
            for r in con.execute(f"SELECT session_id, count(*) FROM {table} GROUP BY 1").fetchall()
        }
        assert set(landed) == sids, table
        assert min(landed.values()) > 0, table


def test_result_table_is_keyless_with_duplicates(con: duckdb.DuckDBPyConnection) -> None:
    assert [c for c, _ in _columns(con, gl.RESULT_TABLE)] == [
        "session_id", "o_orderpriority", "l_shipmode", "line_count", "revenue",
    ]  # fmt: skip
    dups = con.execute(
        f"""SELECT sum(n - 1) FROM (
                SELECT count(*) AS n FROM {gl.RESULT_TABLE} GROUP BY ALL HAVING n > 1)"""
    ).fetchone()[0]
    assert dups and dups > 0  # exact duplicate rows exist, as the contract allows


# ----------------------------------------------------------------------------------------------
# Evolution between sessions (TPC-H refresh functions)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scope", SCOPES)
def test_churn_is_small_but_nonzero(con: duckdb.DuckDBPyConnection, scope: str) -> None:
    chain = _chain(con, scope)
    for old, new in pairwise(chain):
        changed = 0
        for table in ("orders", "lineitem"):
            added, removed = _diff(con, table, old, new)
            assert added > 0 and removed > 0, (table, old, new)
            changed += max(added, removed)
        total = con.execute(
            "SELECT (SELECT count(*) FROM orders WHERE session_id = $s)"
            " + (SELECT count(*) FROM lineitem WHERE session_id = $s)",
            {"s": old},
        ).fetchone()[0]
        assert 0 < changed / total < 0.02, (old, new, changed, total)


@pytest.mark.parametrize("scope", SCOPES)
def test_rf1_inserts_new_orderkeys(con: duckdb.DuckDBPyConnection, scope: str) -> None:
    chain = _chain(con, scope)
    seen: set[int] = set()
    for old, new in pairwise(chain):
        seen |= _keys(con, old)
        inserted = _keys(con, new) - _keys(con, old)
        assert len(inserted) == RF_ORDERS
        assert not inserted & seen  # never a key used earlier in the chain
        assert all(k % 32 >= 8 for k in inserted)  # from the gaps of the sparse key range
        lines = con.execute(
            """SELECT count(*) FROM lineitem WHERE session_id = $s
               AND l_orderkey IN (SELECT unnest($k))
               GROUP BY l_orderkey""",
            {"s": new, "k": sorted(inserted)},
        ).fetchall()
        assert len(lines) == RF_ORDERS
        assert all(1 <= n <= 7 for (n,) in lines)


@pytest.mark.parametrize("scope", SCOPES)
def test_rf2_deletes_orders_with_their_lines(con: duckdb.DuckDBPyConnection, scope: str) -> None:
    chain = _chain(con, scope)
    for old, new in pairwise(chain):
        deleted = _keys(con, old) - _keys(con, new)
        assert len(deleted) == RF_ORDERS
        left = con.execute(
            """SELECT count(*) FROM lineitem
               WHERE session_id = $s AND l_orderkey IN (SELECT unnest($k))""",
            {"s": new, "k": sorted(deleted)},
        ).fetchone()[0]
        assert left == 0


@pytest.mark.parametrize("scope", SCOPES)
def test_status_columns_follow_current_date(con: duckdb.DuckDBPyConnection, scope: str) -> None:
    for n, sid in enumerate(_chain(con, scope)):
        today = date(1995, 6, 17) + timedelta(days=n)
        bad_lines = con.execute(
            """SELECT count(*) FROM lineitem WHERE session_id = $s AND (
                   (l_linestatus = 'O') <> (l_shipdate > $d)
                   OR (l_returnflag = 'N') <> (l_receiptdate > $d))""",
            {"s": sid, "d": today},
        ).fetchone()[0]
        assert bad_lines == 0
        bad_orders = con.execute(
            """SELECT count(*) FROM orders o JOIN (
                   SELECT l_orderkey, CASE WHEN bool_and(l_linestatus = 'F') THEN 'F'
                                           WHEN bool_and(l_linestatus = 'O') THEN 'O'
                                           ELSE 'P' END AS st
                   FROM lineitem WHERE session_id = $s GROUP BY l_orderkey) l
               ON l.l_orderkey = o.o_orderkey
               WHERE o.session_id = $s AND o.o_orderstatus <> l.st""",
            {"s": sid},
        ).fetchone()[0]
        assert bad_orders == 0
        orphans = con.execute(
            """SELECT count(*) FROM orders o WHERE session_id = $s AND NOT EXISTS (
                   SELECT 1 FROM lineitem l WHERE l.session_id = $s
                   AND l.l_orderkey = o.o_orderkey)""",
            {"s": sid},
        ).fetchone()[0]
        assert orphans == 0


def test_dimensions_change_slowly(con: duckdb.DuckDBPyConnection) -> None:
    chain = _chain(con, "VN")
    for table in ("customer", "part"):
        added, removed = _diff(con, table, chain[0], chain[1])
        assert 1 <= added == removed <= 10, table  # edits only: same count in and out


def test_scopes_differ(con: duckdb.DuckDBPyConnection) -> None:
    vn, de = _chain(con, "VN")[0], _chain(con, "DE")[0]
    a, b = _keys(con, vn), _keys(con, de)
    assert a != b
    # both are ~95 % of the same base
    assert len(a & b) > 0.85 * max(len(a), len(b))


# ----------------------------------------------------------------------------------------------
# Determinism and --append
# ----------------------------------------------------------------------------------------------


def _fingerprints(path: Path) -> dict[str, tuple[int, int]]:
    """Per table: row count and the sum of row hashes (an order-insensitive multiset digest;
    much cheaper than EXCEPT ALL both ways)."""
    with duckdb.connect(str(path), read_only=True) as c:
        return {
            table: c.execute(f"SELECT count(*), sum(hash(t)) FROM {table} AS t").fetchone()
            for table in ("sessions", *gl.LANDING_TABLES)
        }


def _same_content(a: Path, b: Path) -> bool:
    return _fingerprints(a) == _fingerprints(b)


def test_same_seed_same_data(landing: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.duckdb"
    _generate(again)
    assert _same_content(landing, again)
    other = tmp_path / "other.duckdb"
    _generate(other, seed=SEED + 1)
    a, b = _fingerprints(landing), _fingerprints(other)
    assert a["sessions"] == b["sessions"]  # the plan does not depend on the seed...
    for table in gl.LANDING_TABLES:
        assert a[table] != b[table], table  # ...the data does


def test_append_continues_from_latest_state(landing: Path, tmp_path: Path) -> None:
    path = tmp_path / "appended.duckdb"
    _generate(path, sessions=2)
    with duckdb.connect(str(path), read_only=True) as c:
        last_before = c.execute("SELECT max(started_at) FROM sessions").fetchone()[0]
    # scale factor, scopes and tables default to what is landed
    summary = gl.generate(path, sessions=2, seed=SEED, append=True)
    assert summary.scale_factor == SF
    with duckdb.connect(str(path), read_only=True) as c:
        new_times = c.execute(
            "SELECT started_at FROM sessions WHERE started_at > $t", {"t": last_before}
        ).fetchall()
        assert len(new_times) == 2 * len(SCOPES)
    # 2 + 2 appended sessions are exactly the 4 sessions generated in one go
    assert _same_content(landing, path)


def test_append_one_scope_one_session(landing: Path, tmp_path: Path) -> None:
    path = tmp_path / "one.duckdb"
    path.write_bytes(landing.read_bytes())
    gl.generate(path, scopes=["VN"], sessions=1, seed=SEED, append=True)
    with duckdb.connect(str(path), read_only=True) as c:
        chain = _chain(c, "VN")
        assert len(chain) == SESSIONS + 1
        assert len(_chain(c, "DE")) == SESSIONS
        inserted = _keys(c, chain[-1]) - _keys(c, chain[-2])
        assert len(inserted) == RF_ORDERS


def test_failed_every_and_status(tmp_path: Path) -> None:
    path = tmp_path / "failed.duckdb"
    _generate(path, scopes=["JP"], sessions=4, failed_every=2, status="running")
    with duckdb.connect(str(path), read_only=True) as c:
        statuses = [
            r[0] for r in c.execute("SELECT status FROM sessions ORDER BY started_at").fetchall()
        ]
        assert statuses == ["running", "failed", "running", "failed"]
        # failed sessions still have their rows
        assert c.execute(
            "SELECT count(DISTINCT session_id) FROM orders"
        ).fetchone()[0] == 4  # fmt: skip


def test_refuses_to_overwrite_and_table_subset(landing: Path, tmp_path: Path) -> None:
    with pytest.raises(FileExistsError):
        _generate(landing)
    path = tmp_path / "subset.duckdb"
    path.write_bytes(landing.read_bytes())
    _generate(path, overwrite=True, scopes=["US"], sessions=1)
    with duckdb.connect(str(path), read_only=True) as c:
        assert c.execute("SELECT DISTINCT scope FROM sessions").fetchall() == [("US",)]
        assert c.execute("SELECT DISTINCT session_id FROM lineitem").fetchall() == [
            ("US-20240101T000000",)
        ]
    path.unlink()
    _generate(path, tables=["orders", "lineitem"], sessions=2)
    gl.generate(path, scopes=SCOPES, sessions=1, seed=SEED, append=True, scale_factor=SF)
    with duckdb.connect(str(path), read_only=True) as c:
        tables = {r[0] for r in c.execute("SHOW TABLES").fetchall()}
        assert tables == {"sessions", "orders", "lineitem"}
        assert c.execute("SELECT count(DISTINCT session_id) FROM lineitem").fetchone()[0] == 6


# ----------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------


def test_cli_plan_prints_only_the_plan(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "never.duckdb"
    rc = gl.main(["--landing-db", str(path), "--plan", "--sessions", "2", "--scopes", "BR,US"])
    assert rc == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.splitlines() == [
        "BR-20240101T000000\tBR\t2024-01-01T00:00:00\tsucceeded",
        "US-20240101T030000\tUS\t2024-01-01T03:00:00\tsucceeded",
        "BR-20240101T060000\tBR\t2024-01-01T06:00:00\tsucceeded",
        "US-20240101T090000\tUS\t2024-01-01T09:00:00\tsucceeded",
    ]
    assert not path.exists()


def test_cli_json_and_help(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "cli.duckdb"
    argv = ["--landing-db", str(path), "--scale-factor", str(SF), "--scopes", "VN",
            "--sessions", "2", "--json"]  # fmt: skip
    assert gl.main(argv) == 0
    out, _ = capsys.readouterr()
    summary = json.loads(out)
    assert summary["sessions"] == 2 and summary["rows"]["orders"] > 0
    assert 0 < summary["churn_pct"]["orders+lineitem"] < 2
    assert gl.main(argv) == 2  # exists already: refused with a message
    assert "--append" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        gl.main(["--help"])
    assert exc.value.code == 0
    assert "example" in capsys.readouterr().out
