#!/usr/bin/env python3
"""Generate a realistic landing stream of sessions, offline, into a DuckDB database.

Each scope (a country code) runs a chain of sessions. Every session lands the *complete* content
of each landing table, tagged with its ``session_id`` (first column), plus one row in ``sessions``.
Consecutive sessions of a scope differ the way a TPC-H database evolves (TPC-H spec, refresh
functions): RF2 deletes SF*1500 orders with their lines, RF1 inserts SF*1500 new orders (1-7 lines
each, keys taken from the unused gaps of the sparse orderkey range), the spec's "current date"
advances one day per session and the status columns follow it, and the dimensions receive a few
slowly changing edits. That is ~0.1-0.5 % changed rows per session, like a real system.

Landing contract (what the backup models read):

* ``sessions(session_id VARCHAR unique, scope VARCHAR not null, started_at TIMESTAMP (UTC),
  status VARCHAR in ('running', 'succeeded', 'failed'))``
* ``customer``, ``part``, ``orders``, ``lineitem``: ``session_id`` then the TPC-H columns with their
  TPC-H names and types (as tpchgen-cli writes them: BIGINT keys, DECIMAL(15,2) money, DATE dates).
* ``result_revenue_by_priority``: ``session_id``, ``o_orderpriority``, ``l_shipmode``,
  ``line_count``, ``revenue``: a keyless report (one row per recent order and ship mode, revenue
  rounded down to thousands) that legitimately holds duplicate rows. It covers orders placed in the
  28 days up to the session's current date, so it shifts a little from one session to the next.

Everything is set-based DuckDB SQL over per-scope temp tables; Python only loops over sessions.
Randomness comes from ``hash()`` salted with values derived from ``--seed``, so a run is
deterministic for a given seed *and DuckDB version* (DuckDB does not promise ``hash()`` is stable
across versions). Generating N sessions at once or in several ``--append`` steps gives the same
data, because every choice depends only on (seed, scope, session number, row key).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb

STATE_TABLES: tuple[str, ...] = ("customer", "part", "orders", "lineitem")
RESULT_TABLE = "result_revenue_by_priority"
LANDING_TABLES: tuple[str, ...] = (*STATE_TABLES, RESULT_TABLE)
STATUSES: tuple[str, ...] = ("running", "succeeded", "failed")

DEFAULT_LANDING_DB = "data/landing.duckdb"
DEFAULT_SCALE_FACTOR = 0.01
DEFAULT_SCOPES: tuple[str, ...] = ("VN", "DE")
DEFAULT_START = datetime(2024, 1, 1)
SESSION_INTERVAL = timedelta(hours=6)

# TPC-H: the data is generated "as of" this date (status columns follow it).
SPEC_CURRENT_DATE = date(1995, 6, 17)
RESULT_WINDOW_DAYS = 28
# Share of customer / part rows edited per session (slowly changing dimensions).
SCD_FRACTION = 0.0005
# A scope drops 1 order in SCOPE_DROP_MODULUS of the base data, so scopes are not identical.
SCOPE_DROP_MODULUS = 20

PRIORITIES = ["1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED", "5-LOW"]
SHIP_MODES = ["REG AIR", "AIR", "RAIL", "SHIP", "TRUCK", "MAIL", "FOB"]
SHIP_INSTRUCTS = ["DELIVER IN PERSON", "COLLECT COD", "NONE", "TAKE BACK RETURN"]
# A few words of the TPC-H comment grammar, enough for plausible comments on new rows.
WORDS = [
    "furiously", "quickly", "carefully", "blithely", "slyly", "final", "pending", "regular",
    "express", "ironic", "bold", "special", "even", "silent", "unusual", "accounts", "deposits",
    "requests", "packages", "instructions", "theodolites", "foxes", "ideas", "dependencies",
    "platelets", "sleep", "wake", "haggle", "nag", "use", "boost", "cajole", "detect", "integrate",
    "among", "above", "across", "along",
]  # fmt: skip

# Churn is reported per table and for these groups of tables.
CHURN_GROUPS: dict[str, tuple[str, ...]] = {
    **{t: (t,) for t in STATE_TABLES},
    "orders+lineitem": ("orders", "lineitem"),
    "all": STATE_TABLES,
}
# Commit after this many landed rows (always at a session boundary).
COMMIT_EVERY_ROWS = 2_000_000

_PARAM_RE = re.compile(r"\$([A-Za-z_]\w*)")


# --------------------------------------------------------------------------------------------
# Planning (pure)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedSession:
    """One session to land: ``number`` is its 0-based position in its scope's chain."""

    session_id: str
    scope: str
    started_at: datetime
    status: str
    number: int


@dataclass(frozen=True)
class ScopeHistory:
    """What a landing DB already holds for one scope (for ``--append``)."""

    count: int
    last_session_id: str
    last_started_at: datetime


def session_id_for(scope: str, started_at: datetime) -> str:
    """Stable, readable session id: scope and start time."""
    return f"{scope}-{started_at:%Y%m%dT%H%M%S}"


def plan_sessions(
    scopes: Sequence[str],
    sessions: int,
    start: datetime = DEFAULT_START,
    status: str = "succeeded",
    failed_every: int = 0,
    history: Mapping[str, ScopeHistory] | None = None,
) -> list[PlannedSession]:
    """Return the sessions to land, in ``started_at`` order. Pure: touches nothing.

    Sessions of one scope come every ``SESSION_INTERVAL``; scopes are interleaved by offsetting
    scope ``j`` by ``j / len(scopes)`` of an interval. With ``history`` (append mode) a known scope
    continues one interval after its latest session; a new scope starts after everything landed.
    """
    history = history or {}
    offset = SESSION_INTERVAL / max(1, len(scopes))
    latest = max((h.last_started_at for h in history.values()), default=None)
    new_scope_anchor = start if latest is None else latest + SESSION_INTERVAL
    planned: list[PlannedSession] = []
    for j, scope in enumerate(scopes):
        known = history.get(scope)
        for k in range(sessions):
            if known is not None:
                started_at = known.last_started_at + SESSION_INTERVAL * (k + 1)
                number = known.count + k
            else:
                started_at = new_scope_anchor + SESSION_INTERVAL * k + offset * j
                number = k
            started_at = started_at.replace(microsecond=0)
            failed = failed_every > 0 and (number + 1) % failed_every == 0
            planned.append(
                PlannedSession(
                    session_id=session_id_for(scope, started_at),
                    scope=scope,
                    started_at=started_at,
                    status="failed" if failed else status,
                    number=number,
                )
            )
    planned.sort(key=lambda p: (p.started_at, p.scope))
    return planned


def current_date_for(number: int) -> date:
    """The TPC-H "current date" of the ``number``-th session of a scope: one day per session."""
    return SPEC_CURRENT_DATE + timedelta(days=number)


def salt(seed: int, *parts: object) -> int:
    """A 64-bit salt that is stable across Python and DuckDB versions (blake2b, not hash())."""
    text = "|".join(str(p) for p in (seed, *parts))
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


# --------------------------------------------------------------------------------------------
# SQL helpers
# --------------------------------------------------------------------------------------------


def _sql(con: duckdb.DuckDBPyConnection, sql: str, **params: Any) -> duckdb.DuckDBPyConnection:
    """Execute ``sql`` binding only the ``$name`` parameters it uses (DuckDB rejects extras)."""
    used = set(_PARAM_RE.findall(sql))
    missing = used - params.keys()
    if missing:
        raise KeyError(f"missing SQL parameters: {sorted(missing)}")
    return con.execute(sql, {k: v for k, v in params.items() if k in used})


def _count(con: duckdb.DuckDBPyConnection, sql: str, **params: Any) -> int:
    """Execute a DML statement and return how many rows it touched."""
    row = _sql(con, sql, **params).fetchone()
    return int(row[0]) if row else 0


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE NOT temporary AND schema_name = 'main' "
        "AND table_name = $name",
        {"name": name},
    ).fetchone()
    return bool(row and row[0])


MACROS = [
    # hash() of several arguments mixes its low bits poorly (hash(k, 7, s) % 4 equals
    # hash(k, 8, s) % 4), so re-hash the combination: rnd is uniform in every bit.
    "CREATE OR REPLACE TEMP MACRO rnd(x, s) AS hash(xor(hash(x), s::UBIGINT))",
    # A uniform integer in [0, n).
    "CREATE OR REPLACE TEMP MACRO rint(x, s, n) AS (rnd(x, s) % n)::BIGINT",
    # TPC-H supplier of a part: 4 suppliers per part, spread over the supplier range.
    """CREATE OR REPLACE TEMP MACRO tpch_suppkey(partkey, i, nsupp) AS
       (partkey + i * (nsupp // 4 + (partkey - 1) // nsupp)) % nsupp + 1""",
]


def _tpchgen_path() -> str:
    """tpchgen-cli ships in the venv next to the interpreter; fall back to PATH."""
    beside = Path(sys.executable).parent / "tpchgen-cli"
    if beside.exists():
        return str(beside)
    found = shutil.which("tpchgen-cli")
    if not found:
        raise FileNotFoundError("tpchgen-cli not found (pip install tpchgen-cli)")
    return found


# tpchgen-cli output per scale factor, kept for the life of the process (a TemporaryDirectory
# removes itself at exit): tests and benchmarks that call generate() repeatedly pay for it once.
_BASE_DIRS: dict[str, tempfile.TemporaryDirectory[str]] = {}


def tpch_base_dir(scale_factor: float) -> Path:
    """Generate the four TPC-H tables at ``scale_factor`` as Parquet (once per process)."""
    key = repr(scale_factor)
    if key not in _BASE_DIRS:
        tmp = tempfile.TemporaryDirectory(prefix="tpchgen-")
        cmd = [
            _tpchgen_path(), "parquet", "-s", key, "-T", ",".join(STATE_TABLES),
            "-o", tmp.name, "-q",
        ]  # fmt: skip
        try:
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        except BaseException:
            tmp.cleanup()
            raise
        _BASE_DIRS[key] = tmp
    return Path(_BASE_DIRS[key].name)


# --------------------------------------------------------------------------------------------
# Generator
# --------------------------------------------------------------------------------------------


@dataclass
class _ScopeState:
    """A scope's current state lives in temp tables named ``st{index}_<table>``."""

    index: int
    scope: str
    loaded: bool = False

    def t(self, table: str) -> str:
        return f"st{self.index}_{table}"


@dataclass
class Summary:
    """What ``generate`` did; ``churn_pct`` is the mean over evolved sessions."""

    landing_db: str
    scale_factor: float
    sessions: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    churn_pct: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "landing_db": self.landing_db,
            "scale_factor": self.scale_factor,
            "sessions": len(self.sessions),
            "first_session": self.sessions[0] if self.sessions else None,
            "last_session": self.sessions[-1] if self.sessions else None,
            "rows": self.rows,
            "churn_pct": self.churn_pct,
            "seconds": round(self.seconds, 2),
        }


class _Generator:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        scale_factor: float,
        seed: int,
        tables: Sequence[str],
    ) -> None:
        self.con = con
        self.sf = scale_factor
        self.seed = seed
        self.tables = list(tables)
        # TPC-H cardinalities at this scale factor.
        self.rf_orders = max(1, round(scale_factor * 1500))
        self.n_customers = max(1, int(scale_factor * 150_000))
        self.n_parts = max(1, int(scale_factor * 200_000))
        self.n_suppliers = max(1, int(scale_factor * 10_000))
        self.n_clerks = max(1, int(scale_factor * 1_000))
        self.base_loaded = False
        for macro in MACROS:
            con.execute(macro)

    # -- base data ---------------------------------------------------------------------------

    def load_base(self) -> None:
        """Load the TPC-H base tables (from tpchgen-cli's Parquet) as temp tables, once."""
        if self.base_loaded:
            return
        base_dir = tpch_base_dir(self.sf)
        for table in STATE_TABLES:
            _sql(
                self.con,
                f"CREATE OR REPLACE TEMP TABLE base_{table} AS SELECT * FROM read_parquet($p)",
                p=str(base_dir / f"{table}.parquet"),
            )
        self.base_loaded = True

    def init_from_base(self, st: _ScopeState, tables: Iterable[str]) -> None:
        """A scope's first state: the base data minus a scope-specific 1/20 of the orders."""
        self.load_base()
        tables = set(tables)
        for table in ("customer", "part"):
            if table in tables:
                self.con.execute(
                    f"CREATE OR REPLACE TEMP TABLE {st.t(table)} AS SELECT * FROM base_{table}"
                )
        if tables & {"orders", "lineitem"}:
            _sql(
                self.con,
                f"""CREATE OR REPLACE TEMP TABLE {st.t("orders")} AS
                    SELECT * FROM base_orders WHERE rint(o_orderkey, $s, $mod) <> 0
                    ORDER BY o_orderkey""",
                s=salt(self.seed, st.scope, "scope"),
                mod=SCOPE_DROP_MODULUS,
            )
            self.con.execute(
                f"""CREATE OR REPLACE TEMP TABLE {st.t("lineitem")} AS
                    SELECT * FROM base_lineitem
                    WHERE l_orderkey IN (SELECT o_orderkey FROM {st.t("orders")})
                    ORDER BY l_orderkey, l_linenumber"""
            )

    def init_from_landing(self, st: _ScopeState, last_session_id: str) -> None:
        """Continue a scope from its latest landed session; rebuild what was not landed."""
        available: set[str] = set()
        for table in STATE_TABLES:
            if not _table_exists(self.con, table):
                continue
            _sql(
                self.con,
                f"CREATE OR REPLACE TEMP TABLE {st.t(table)} AS "
                f"SELECT * EXCLUDE (session_id) FROM {_ident(table)} WHERE session_id = $sid",
                sid=last_session_id,
            )
            if _count(self.con, f"SELECT count(*) FROM {st.t(table)}") > 0:
                available.add(table)
        # orders and lineitem evolve together: both come from landing or both from the base.
        missing = set(STATE_TABLES) - available
        if missing & {"orders", "lineitem"}:
            missing |= {"orders", "lineitem"}
        if not missing:
            return
        # Only worth a warning when a restarted table is landed: its chain jumps back to the base.
        landed = sorted(missing & set(self.tables))
        if landed:
            print(
                f"warning: scope {st.scope}: cannot continue {landed} from {last_session_id} "
                "(orders and lineitem must be landed together); restarting from the TPC-H base",
                file=sys.stderr,
            )
        self.init_from_base(st, missing)

    # -- one session's changes -----------------------------------------------------------------

    def refresh_status(self, st: _ScopeState, today: date) -> dict[str, int]:
        """Make the status columns follow the current date (idempotent, touches changed rows)."""
        li, od = st.t("lineitem"), st.t("orders")
        lines = _count(
            self.con,
            f"""UPDATE {li} SET
                  l_linestatus = CASE WHEN l_shipdate > $d THEN 'O' ELSE 'F' END,
                  l_returnflag = CASE
                      WHEN l_returnflag = 'N' AND l_receiptdate <= $d
                      THEN CASE WHEN rint(l_orderkey * 8 + l_linenumber, $s, 2) = 0
                                THEN 'R' ELSE 'A' END
                      ELSE l_returnflag END
                WHERE (l_linestatus = 'O' AND l_shipdate <= $d)
                   OR (l_returnflag = 'N' AND l_receiptdate <= $d)""",
            d=today,
            s=salt(self.seed, st.scope, "returnflag"),
        )
        orders = _count(
            self.con,
            f"""UPDATE {od} SET o_orderstatus = s.status
                FROM (SELECT l_orderkey,
                             CASE WHEN bool_and(l_linestatus = 'F') THEN 'F'
                                  WHEN bool_and(l_linestatus = 'O') THEN 'O'
                                  ELSE 'P' END AS status
                      FROM {li} GROUP BY l_orderkey) AS s
                WHERE o_orderkey = s.l_orderkey AND o_orderstatus <> s.status""",
        )
        return {"lineitem": lines, "orders": orders}

    def rf2_delete(self, st: _ScopeState, number: int) -> dict[str, int]:
        """TPC-H RF2: delete SF*1500 existing orders and their lines."""
        li, od = st.t("lineitem"), st.t("orders")
        _sql(
            self.con,
            f"""CREATE OR REPLACE TEMP TABLE rf2_keys AS
                SELECT o_orderkey FROM {od}
                ORDER BY rnd(o_orderkey, $s), o_orderkey LIMIT $m""",
            s=salt(self.seed, st.scope, number, "rf2"),
            m=self.rf_orders,
        )
        lines = _count(
            self.con, f"DELETE FROM {li} WHERE l_orderkey IN (SELECT o_orderkey FROM rf2_keys)"
        )
        orders = _count(
            self.con, f"DELETE FROM {od} WHERE o_orderkey IN (SELECT o_orderkey FROM rf2_keys)"
        )
        return {"lineitem": lines, "orders": orders}

    def rf1_insert(self, st: _ScopeState, number: int, today: date) -> dict[str, int]:
        """TPC-H RF1: insert SF*1500 new orders with 1-7 lines each.

        TPC-H orderkeys are sparse: only keys with ``k % 32 < 8`` are generated. The n-th unused
        ("gap") key is ``(n // 24) * 32 + 8 + n % 24``; session ``number`` takes the gap keys
        numbered from ``(number - 1) * m`` on, so keys are never reused within a scope (and keep
        going above the base's max key once the gaps run out). The anti-join is a safety net.
        """
        li, od, pt = st.t("lineitem"), st.t("orders"), st.t("part")
        m = self.rf_orders

        def s(purpose: str) -> int:
            return salt(self.seed, st.scope, "rf1", purpose)

        _sql(
            self.con,
            f"""CREATE OR REPLACE TEMP TABLE rf1_orders AS
                WITH keys AS (
                    SELECT (g // 24) * 32 + 8 + g % 24 AS o_orderkey
                    FROM range($g0, $g0 + 4 * $m) AS r(g)
                    WHERE (g // 24) * 32 + 8 + g % 24 NOT IN (SELECT o_orderkey FROM {od})
                    ORDER BY g LIMIT $m
                ), c AS (
                    SELECT o_orderkey, 1 + rint(o_orderkey, $s_cust, $ncust) AS c FROM keys
                )
                SELECT o_orderkey,
                       -- TPC-H: customers whose key is a multiple of 3 place no orders
                       CASE WHEN c % 3 = 0 THEN c - 1 ELSE c END AS o_custkey,
                       -- new orders were placed during the last week
                       ($d - rint(o_orderkey, $s_date, 7)::INTEGER)::DATE AS o_orderdate,
                       $priorities[1 + rint(o_orderkey, $s_prio, 5)] AS o_orderpriority,
                       'Clerk#' || lpad((1 + rint(o_orderkey, $s_clerk, $nclerk))::VARCHAR, 9, '0')
                           AS o_clerk,
                       0::INTEGER AS o_shippriority,
                       array_to_string(list_transform(
                           range(3 + rint(o_orderkey, $s_clen, 5)),
                           lambda i: $words[1 + rint(o_orderkey * 8 + i, $s_word, len($words))]
                       ), ' ') AS o_comment,
                       1 + rint(o_orderkey, $s_lines, 7) AS n_lines
                FROM c""",
            g0=max(0, number - 1) * m,
            m=m,
            d=today,
            ncust=self.n_customers,
            nclerk=self.n_clerks,
            priorities=PRIORITIES,
            words=WORDS,
            s_date=s("date"),
            s_prio=s("prio"),
            s_clerk=s("clerk"),
            s_clen=s("clen"),
            s_word=s("word"),
            s_lines=s("lines"),
            s_cust=s("cust"),
        )
        # Lines: ``lid = l_orderkey * 8 + l_linenumber`` identifies a line (linenumber <= 7).
        _sql(
            self.con,
            f"""CREATE OR REPLACE TEMP TABLE rf1_lines AS
                WITH l AS (
                    SELECT o_orderkey AS l_orderkey, o_orderdate,
                           unnest(range(1, n_lines + 1))::INTEGER AS l_linenumber
                    FROM rf1_orders
                ), k AS (
                    SELECT l_orderkey, l_linenumber, o_orderdate,
                           l_orderkey * 8 + l_linenumber AS lid,
                           1 + rint(lid, $s_part, $nparts) AS l_partkey,
                           (1 + rint(lid, $s_qty, 50))::DECIMAL(15, 2) AS l_quantity,
                           (o_orderdate + 1 + rint(lid, $s_ship, 121)::INTEGER)::DATE AS l_shipdate
                    FROM l
                )
                SELECT k.l_orderkey, k.l_partkey,
                       tpch_suppkey(k.l_partkey, rint(lid, $s_supp, 4), $nsupp) AS l_suppkey,
                       k.l_linenumber,
                       k.l_quantity,
                       -- new lines are priced at the part's current retail price
                       (k.l_quantity * p.p_retailprice)::DECIMAL(15, 2) AS l_extendedprice,
                       (rint(lid, $s_disc, 11) / 100)::DECIMAL(15, 2) AS l_discount,
                       (rint(lid, $s_tax, 9) / 100)::DECIMAL(15, 2) AS l_tax,
                       k.l_shipdate,
                       (k.o_orderdate + 30 + rint(lid, $s_commit, 61)::INTEGER)::DATE
                           AS l_commitdate,
                       (k.l_shipdate + 1 + rint(lid, $s_receipt, 30)::INTEGER)::DATE
                           AS l_receiptdate,
                       $instructs[1 + rint(lid, $s_instr, 4)] AS l_shipinstruct,
                       $modes[1 + rint(lid, $s_mode, 7)] AS l_shipmode,
                       array_to_string(list_transform(
                           range(2 + rint(lid, $s_clen, 4)),
                           lambda i: $words[1 + rint(lid * 8 + i, $s_word, len($words))]
                       ), ' ') AS l_comment
                FROM k JOIN {pt} AS p ON p.p_partkey = k.l_partkey""",
            nparts=self.n_parts,
            nsupp=self.n_suppliers,
            instructs=SHIP_INSTRUCTS,
            modes=SHIP_MODES,
            words=WORDS,
            s_part=s("part"),
            s_ship=s("ship"),
            s_supp=s("supp"),
            s_disc=s("disc"),
            s_tax=s("tax"),
            s_commit=s("commit"),
            s_receipt=s("receipt"),
            s_instr=s("instr"),
            s_mode=s("mode"),
            s_clen=s("lclen"),
            s_word=s("lword"),
            s_qty=s("qty"),
        )
        # Status columns of the new lines follow today's date, exactly like refresh_status.
        lines = _count(
            self.con,
            f"""INSERT INTO {li} BY NAME
                SELECT *,
                       CASE WHEN l_receiptdate > $d THEN 'N'
                            WHEN rint(l_orderkey * 8 + l_linenumber, $s, 2) = 0 THEN 'R'
                            ELSE 'A' END AS l_returnflag,
                       CASE WHEN l_shipdate > $d THEN 'O' ELSE 'F' END AS l_linestatus
                FROM rf1_lines""",
            d=today,
            s=salt(self.seed, st.scope, "returnflag"),
        )
        orders = _count(
            self.con,
            f"""INSERT INTO {od} BY NAME
                SELECT o.* EXCLUDE (n_lines),
                       CASE WHEN bool_and(l.l_shipdate <= $d) THEN 'F'
                            WHEN bool_and(l.l_shipdate > $d) THEN 'O'
                            ELSE 'P' END AS o_orderstatus,
                       sum(l.l_extendedprice * (1 + l.l_tax) * (1 - l.l_discount))
                           ::DECIMAL(15, 2) AS o_totalprice
                FROM rf1_orders AS o JOIN rf1_lines AS l ON l.l_orderkey = o.o_orderkey
                GROUP BY ALL""",
            d=today,
        )
        return {"lineitem": lines, "orders": orders}

    def scd_edits(self, st: _ScopeState, number: int) -> dict[str, int]:
        """Slowly changing dimensions: a few customers change balance (some their address),
        a few parts change retail price by 1-10 %."""
        cu, pt = st.t("customer"), st.t("part")
        customers = _count(
            self.con,
            f"""UPDATE {cu} SET
                  c_acctbal = ((rint(c_custkey, $s_bal, 1099999) - 99999) / 100)::DECIMAL(15, 2),
                  c_address = CASE WHEN rint(c_custkey, $s_addr, 3) = 0
                                   THEN left(md5(c_address || $n::VARCHAR),
                                             10 + rint(c_custkey, $s_len, 23)::INTEGER)
                                   ELSE c_address END
                WHERE c_custkey IN (SELECT c_custkey FROM {cu}
                                    ORDER BY rnd(c_custkey, $s_pick), c_custkey LIMIT $k)""",
            k=max(1, round(self.n_customers * SCD_FRACTION)),
            n=number,
            s_pick=salt(self.seed, st.scope, number, "cust-pick"),
            s_bal=salt(self.seed, st.scope, number, "cust-bal"),
            s_addr=salt(self.seed, st.scope, number, "cust-addr"),
            s_len=salt(self.seed, st.scope, number, "cust-addr-len"),
        )
        # +-1..10 %: never 0, and prices are >= 900.00, so the price always changes.
        parts = _count(
            self.con,
            f"""UPDATE {pt} SET p_retailprice = (p_retailprice * (1 + (
                    CASE WHEN rint(p_partkey, $s_sign, 2) = 0 THEN 1 ELSE -1 END
                    * (1 + rint(p_partkey, $s_pct, 10))) / 100))::DECIMAL(15, 2)
                WHERE p_partkey IN (SELECT p_partkey FROM {pt}
                                    ORDER BY rnd(p_partkey, $s_pick), p_partkey LIMIT $k)""",
            k=max(1, round(self.n_parts * SCD_FRACTION)),
            s_pick=salt(self.seed, st.scope, number, "part-pick"),
            s_sign=salt(self.seed, st.scope, number, "part-sign"),
            s_pct=salt(self.seed, st.scope, number, "part-pct"),
        )
        return {"customer": customers, "part": parts}

    def evolve(self, st: _ScopeState, number: int) -> dict[str, int]:
        """Apply session ``number``'s changes to the scope's state; return changed rows/table."""
        today = current_date_for(number)
        changed: dict[str, int] = {t: 0 for t in STATE_TABLES}

        def add(counts: Mapping[str, int]) -> None:
            for table, n in counts.items():
                changed[table] += n

        if number > 0:
            # RF2 before RF1 so that a session never deletes the orders it just inserted.
            add(self.rf2_delete(st, number))
            add(self.refresh_status(st, today))
            add(self.rf1_insert(st, number, today))
            add(self.scd_edits(st, number))
        else:
            add(self.refresh_status(st, today))  # the base is already as of this date
        return changed

    # -- landing -------------------------------------------------------------------------------

    def result_sql(self, st: _ScopeState) -> str:
        return f"""SELECT o_orderpriority, l_shipmode, count(*) AS line_count,
                       (floor(sum(l_extendedprice * (1 - l_discount)) / 1000) * 1000)
                           ::DECIMAL(15, 2) AS revenue
                   FROM {st.t("orders")} JOIN {st.t("lineitem")} ON l_orderkey = o_orderkey
                   WHERE o_orderdate > $d - {RESULT_WINDOW_DAYS}::INTEGER AND o_orderdate <= $d
                   GROUP BY o_orderkey, o_orderpriority, l_shipmode"""

    def ensure_landing_tables(self, st: _ScopeState) -> None:
        con = self.con
        con.execute(
            """CREATE TABLE IF NOT EXISTS sessions (
                   session_id VARCHAR PRIMARY KEY,
                   scope VARCHAR NOT NULL,
                   started_at TIMESTAMP NOT NULL,
                   status VARCHAR NOT NULL
                       CHECK (status IN ('running', 'succeeded', 'failed')))"""
        )
        for table in self.tables:
            if _table_exists(con, table):
                continue
            source = f"({self.result_sql(st)})" if table == RESULT_TABLE else st.t(table)
            _sql(
                con,
                f"CREATE TABLE {_ident(table)} AS "
                f"SELECT NULL::VARCHAR AS session_id, * FROM {source} AS src WHERE false",
                d=SPEC_CURRENT_DATE,
            )

    def land(self, st: _ScopeState, ps: PlannedSession) -> dict[str, int]:
        con = self.con
        _sql(
            con,
            "INSERT INTO sessions (session_id, scope, started_at, status) "
            "VALUES ($sid, $scope, $ts, $status)",
            sid=ps.session_id, scope=ps.scope, ts=ps.started_at, status=ps.status,
        )  # fmt: skip
        rows: dict[str, int] = {}
        for table in self.tables:
            if table == RESULT_TABLE:
                sql = f"INSERT INTO {_ident(table)} SELECT $sid, * FROM ({self.result_sql(st)})"
            else:
                sql = f"INSERT INTO {_ident(table)} SELECT $sid, * FROM {st.t(table)}"
            rows[table] = _count(con, sql, sid=ps.session_id, d=current_date_for(ps.number))
        return rows


def read_history(con: duckdb.DuckDBPyConnection) -> dict[str, ScopeHistory]:
    """Per scope: how many sessions landed, and the latest one."""
    if not _table_exists(con, "sessions"):
        return {}
    rows = con.execute(
        """SELECT scope, count(*), arg_max(session_id, started_at), max(started_at)
           FROM sessions GROUP BY scope"""
    ).fetchall()
    return {r[0]: ScopeHistory(int(r[1]), r[2], r[3]) for r in rows}


def _infer_scale_factor(
    con: duckdb.DuckDBPyConnection, history: Mapping[str, ScopeHistory]
) -> float | None:
    """Customers are never added or removed, so their count gives SF (150,000 per SF)."""
    if not history or not _table_exists(con, "customer"):
        return None
    sid = next(iter(history.values())).last_session_id
    n = _count(con, "SELECT count(*) FROM customer WHERE session_id = $sid", sid=sid)
    return n / 150_000 if n else None


def _normalize_start(start: datetime | str) -> datetime:
    if isinstance(start, str):
        start = datetime.fromisoformat(start.replace("Z", "+00:00"))
    if start.tzinfo is not None:  # landing timestamps are naive UTC
        start = start.astimezone(timezone.utc).replace(tzinfo=None)
    return start.replace(microsecond=0)


def resolve_scopes(
    scopes: Iterable[str] | None, history: Mapping[str, ScopeHistory] | None = None
) -> list[str]:
    """Validate ``scopes``; ``None`` means the scopes already landed (append), else the default."""
    if scopes is None:
        scopes = sorted(history) if history else DEFAULT_SCOPES
    out: list[str] = []
    for scope in scopes:
        scope = scope.strip()
        if not scope or any(ch.isspace() for ch in scope):
            raise ValueError(f"invalid scope {scope!r}: must be non-empty without spaces")
        if scope in out:
            raise ValueError(f"duplicate scope {scope!r}")
        out.append(scope)
    if not out:
        raise ValueError("at least one scope is required")
    return out


def generate(
    landing_db: str | os.PathLike[str],
    scale_factor: float | None = None,
    scopes: Sequence[str] | None = None,
    sessions: int = 10,
    seed: int = 0,
    start: datetime | str = DEFAULT_START,
    append: bool = False,
    status: str = "succeeded",
    failed_every: int = 0,
    tables: Sequence[str] | None = None,
    overwrite: bool = False,
) -> Summary:
    """Land ``sessions`` sessions per scope into ``landing_db``; return a summary (prints nothing
    except warnings).

    Without ``append`` the database must not hold landing data yet (``overwrite`` drops the
    landing tables first). With ``append`` each scope continues from its latest landed session;
    ``scale_factor`` is then inferred from the landed customers, and ``scopes`` default to the
    landed ones (``tables`` too), when not given.
    """
    t0 = time.perf_counter()
    if scopes is not None:
        resolve_scopes(scopes)  # fail early on bad input
    if sessions < 1:
        raise ValueError("sessions must be >= 1")
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}")
    if failed_every < 0:
        raise ValueError("failed_every must be >= 0")
    if tables is not None:
        unknown = set(tables) - set(LANDING_TABLES)
        if unknown:
            raise ValueError(f"unknown tables {sorted(unknown)}; known: {LANDING_TABLES}")
    start = _normalize_start(start)

    path = Path(landing_db)
    path.parent.mkdir(parents=True, exist_ok=True)
    # No progress bar: the CLI promises to print nothing but its summary (or nothing at all).
    con = duckdb.connect(str(path))
    con.execute("SET enable_progress_bar = false")
    try:
        existing = [t for t in ("sessions", *LANDING_TABLES) if _table_exists(con, t)]
        if existing and not append and not overwrite:
            raise FileExistsError(
                f"{path} already holds landing tables {existing}; "
                "use append=True (--append) or overwrite=True (--overwrite)"
            )
        history = read_history(con) if append else {}
        scopes = resolve_scopes(scopes, history)

        if tables is None:
            present = [t for t in LANDING_TABLES if t in existing]
            tables = present if (append and present) else list(LANDING_TABLES)
        tables = [t for t in LANDING_TABLES if t in set(tables)]

        inferred = _infer_scale_factor(con, history) if append else None
        if (
            inferred is not None
            and scale_factor is not None
            and abs(inferred - scale_factor) > 1e-9
        ):
            raise ValueError(f"landing data is at scale factor {inferred:g}, not {scale_factor:g}")
        sf = inferred or scale_factor or DEFAULT_SCALE_FACTOR
        if not 0 < sf <= 100:
            raise ValueError("scale factor must be in (0, 100]")

        plan = plan_sessions(scopes, sessions, start, status, failed_every, history)
        gen = _Generator(con, sf, seed, tables)
        states = {scope: _ScopeState(j, scope) for j, scope in enumerate(scopes)}
        summary = Summary(landing_db=str(path), scale_factor=sf)
        totals = {t: 0 for t in tables}
        churn_sum: dict[str, float] = {}
        evolved = 0
        # Sessions land whole, several per transaction: a commit costs an fsync (~25-100 ms
        # here), which would dominate small scale factors if paid per session.
        pending_rows = 0
        con.begin()
        if existing and not append:  # overwrite: dropped in the same transaction as the new data
            for table in existing:
                con.execute(f"DROP TABLE {_ident(table)}")

        for ps in plan:
            st = states[ps.scope]
            if not st.loaded:
                known = history.get(ps.scope)
                if known is not None:
                    gen.init_from_landing(st, known.last_session_id)
                else:
                    gen.init_from_base(st, STATE_TABLES)
                st.loaded = True
                gen.ensure_landing_tables(st)
            before = {t: _count(con, f"SELECT count(*) FROM {st.t(t)}") for t in STATE_TABLES}
            changed = gen.evolve(st, ps.number)
            rows = gen.land(st, ps)
            pending_rows += sum(rows.values())
            if pending_rows >= COMMIT_EVERY_ROWS:
                con.commit()
                con.begin()
                pending_rows = 0
            for table, n in rows.items():
                totals[table] += n
            if ps.number > 0:
                evolved += 1
                for name, members in CHURN_GROUPS.items():
                    base = sum(before[t] for t in members)
                    pct = 100.0 * sum(changed[t] for t in members) / base if base else 0.0
                    churn_sum[name] = churn_sum.get(name, 0.0) + pct
            summary.sessions.append(ps.session_id)

        con.commit()
        summary.rows = totals
        summary.churn_pct = (
            {k: round(v / evolved, 4) for k, v in churn_sum.items()} if evolved else {}
        )
        con.execute("CHECKPOINT")
    finally:
        con.close()
    summary.seconds = time.perf_counter() - t0
    return summary


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------

EPILOG = """example:
  python scripts/generate_landing.py --landing-db /tmp/landing.duckdb \\
      --scale-factor 0.01 --scopes VN,DE --sessions 10 --seed 42
  # then land one more session per scope, e.g. from a benchmark loop:
  python scripts/generate_landing.py --landing-db /tmp/landing.duckdb --append --sessions 1
"""


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Generate a TPC-H based landing stream of sessions into a DuckDB file "
        "(offline, deterministic for a given --seed).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--landing-db",
        default=os.environ.get("SESSION_BACKUP_LANDING_DB", DEFAULT_LANDING_DB),
        help="DuckDB file to write (default: $SESSION_BACKUP_LANDING_DB or %(default)s)",
    )
    p.add_argument(
        "--scale-factor",
        type=float,
        default=None,
        help=f"TPC-H scale factor (default {DEFAULT_SCALE_FACTOR}; with --append, inferred)",
    )
    p.add_argument(
        "--scopes",
        default=None,
        help="comma-separated scopes (country codes); default "
        + ",".join(DEFAULT_SCOPES)
        + ", with --append the scopes already landed",
    )
    p.add_argument(
        "--sessions", type=int, default=10, help="sessions to land per scope (default %(default)s)"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    p.add_argument(
        "--start",
        default=DEFAULT_START.isoformat(),
        help="started_at of the first session, UTC (default %(default)s); "
        "a scope's sessions come every 6 hours, scopes interleaved",
    )
    p.add_argument(
        "--append",
        action="store_true",
        help="continue an existing landing DB after each scope's latest session",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="drop existing landing tables first (without --append)",
    )
    p.add_argument(
        "--status",
        choices=STATUSES,
        default="succeeded",
        help="status of the new sessions (default %(default)s)",
    )
    p.add_argument(
        "--failed-every",
        type=int,
        default=0,
        metavar="K",
        help="every K-th session of a scope is 'failed' (rows still landed); 0 = never",
    )
    p.add_argument(
        "--tables",
        default=None,
        help="comma-separated subset of "
        + ",".join(LANDING_TABLES)
        + " (default: all; with --append: those already landed)",
    )
    out = p.add_mutually_exclusive_group()
    out.add_argument("--quiet", action="store_true", help="print nothing")
    out.add_argument("--json", action="store_true", help="print only the summary as JSON on stdout")
    out.add_argument(
        "--plan",
        action="store_true",
        help="print only the planned sessions (TSV: session_id, scope, started_at, "
        "status) and write nothing",
    )
    return p.parse_args(argv)


def _split(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    scopes = _split(args.scopes)
    try:
        if args.plan:
            history: dict[str, ScopeHistory] = {}
            if args.append and Path(args.landing_db).exists():
                with duckdb.connect(args.landing_db, read_only=True) as con:
                    history = read_history(con)
            plan = plan_sessions(
                resolve_scopes(scopes, history), args.sessions, _normalize_start(args.start),
                args.status, args.failed_every, history,
            )  # fmt: skip
            for ps in plan:
                print(f"{ps.session_id}\t{ps.scope}\t{ps.started_at.isoformat()}\t{ps.status}")
            return 0
        summary = generate(
            landing_db=args.landing_db,
            scale_factor=args.scale_factor,
            scopes=scopes,
            sessions=args.sessions,
            seed=args.seed,
            start=args.start,
            append=args.append,
            status=args.status,
            failed_every=args.failed_every,
            tables=_split(args.tables),
            overwrite=args.overwrite,
        )
    except (ValueError, FileExistsError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(summary.as_dict()))
    elif not args.quiet:
        d = summary.as_dict()
        print(
            f"landed {d['sessions']} session(s) ({d['first_session']} .. {d['last_session']}) "
            f"into {d['landing_db']} at SF {d['scale_factor']:g} in {d['seconds']} s",
            file=sys.stderr,
        )
        for table, n in d["rows"].items():
            print(f"  {table:<28} {n:>12,} rows", file=sys.stderr)
        if d["churn_pct"]:
            churn = ", ".join(f"{k} {v:.3f} %" for k, v in d["churn_pct"].items())
            print(f"  mean churn per session: {churn}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
