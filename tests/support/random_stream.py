"""A seeded random session stream for the DuckDB backup, and the checks run after every step.

Everything random comes from one `random.Random(seed)`: the same seed lands the same tables,
rows, sessions and faults, so a failure reproduces from its seed alone.

- `random_tables` draws keyed and keyless tables whose column names come from a hostile
  alphabet (or plain names only), `RandomLanding` lands sessions into them and remembers, per
  session and table, what was landed (columns, types, multiset of rows) at the moment it landed.
- `RestoreChecker` restores every (session, table) the manifest holds, through the SQL
  `restore_<t>()` functions and the CLI, and compares with what was landed, value by value; it
  also keeps a fingerprint of the first restore of each pair and compares every later one, and
  runs `verify --all`.
- `run_backup_with_fault` runs one backup with SESSION_BACKUP_FAULT set (session_backup.faults):
  `raise` in-process, `kill` in a subprocess that SIGKILLs itself.
"""

from __future__ import annotations

import faulthandler
import json
import os
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from session_backup.config import environment_set
from support.project import Deployment, canonical, multiset

# Column names a real landing can carry. DuckDB (like BigQuery) folds case when it checks for
# duplicate column names, so "Amount" and "amount" cannot share a table: the stream puts them in
# two tables of the same backup instead.
HOSTILE_NAMES = [
    "Mixed Case",
    "UPPER",
    "it's",
    'say "hi"',
    "a.b",
    "select",
    "order",
    "group",
    "Größe",
    "giá trị",
    "名前",
    " padded ",
    "x'); drop table y; --",
    "tab\tname",
]
CASE_TWINS = ("Amount", "amount")
PLAIN_NAMES = ["label", "price", "quantity", "note", "seen_at", "flag", "weight", "code"]
# Scopes and session ids are data too.
HOSTILE_SCOPES = ["VN", "de 'quoted'", "Größe/🚀", 'x"y.z']
PLAIN_SCOPES = ["VN", "DE", "FR"]

TYPES = ["integer", "bigint", "double", "varchar", "decimal(18,4)", "timestamp", "boolean", "date"]
LONG_TEXT = "long " + "ą→ß" * 3000
TEXTS = [
    None,
    "",
    "NULL",
    "null",
    " ",
    "Tiếng Việt — 日本語 — 🚀",
    'it\'s "quoted"',
    "a|b",
    "a\nb",
    LONG_TEXT,
]
DOUBLES = [None, 0.0, -0.0, float("nan"), float("inf"), float("-inf"), 1.5, -1e308, 5e-324]
DECIMALS = [
    None,
    Decimal("0.0000"),
    Decimal("-12345678901234.5678"),
    Decimal("0.0001"),
    Decimal("99999999999999.9999"),
]
TIMESTAMPS = [
    None,
    datetime(1970, 1, 1),
    datetime(2099, 12, 31, 23, 59, 59, 999999),
    datetime(2024, 2, 29, 12),
]


@dataclass
class Column:
    name: str
    type: str


@dataclass
class TableSpec:
    name: str
    key: list[Column]
    columns: list[Column]  # the non-key columns, in landing order

    @property
    def declaration(self) -> dict:
        return {"key": [column.name for column in self.key]} if self.key else {}

    @property
    def all_columns(self) -> list[Column]:
        return self.key + self.columns


def random_value(rng: random.Random, type_: str) -> object:
    """Mostly ordinary values, often an edge case."""
    edge = rng.random() < 0.4
    if type_ in ("integer", "bigint"):
        limit = 2**31 - 1 if type_ == "integer" else 2**63 - 1
        return rng.choice([None, 0, -1, limit, -limit]) if edge else rng.randint(-1000, 1000)
    if type_ == "double":
        return rng.choice(DOUBLES) if edge else round(rng.uniform(-1000, 1000), rng.randint(0, 6))
    if type_ == "varchar":
        return (
            rng.choice(TEXTS)
            if edge
            else rng.choice(["alpha", "beta", "gamma", "đ", "名"]) + str(rng.randint(0, 9))
        )
    if type_ == "decimal(18,4)":
        return rng.choice(DECIMALS) if edge else Decimal(rng.randint(-(10**8), 10**8)) / 10000
    if type_ == "timestamp":
        if edge:
            return rng.choice(TIMESTAMPS)
        return datetime(2024, 1, 1) + timedelta(
            seconds=rng.randint(0, 10**8), microseconds=rng.randint(0, 999999)
        )
    if type_ == "boolean":
        return rng.choice([None, True, False])
    if type_ == "date":
        return (
            None
            if edge and rng.random() < 0.5
            else (datetime(2000, 1, 1) + timedelta(days=rng.randint(0, 40000))).date()
        )
    raise ValueError(type_)


def random_tables(rng: random.Random, hostile: bool) -> list[TableSpec]:
    """A plain keyed table (so not everything fails at once), then a keyed and a keyless table
    that share out the whole hostile alphabet (or the plain names) in a random order and types;
    with hostile names, each also gets one of the case twins."""
    plain = [Column(name, rng.choice(TYPES)) for name in rng.sample(PLAIN_NAMES, 4)]
    tables = [TableSpec("plain_items", [Column("item_id", "integer")], plain)]
    names = rng.sample(
        HOSTILE_NAMES if hostile else PLAIN_NAMES, len(HOSTILE_NAMES if hostile else PLAIN_NAMES)
    )
    key_count = rng.choice([1, 2])
    key = [Column(name, rng.choice(["integer", "varchar", "bigint"])) for name in names[:key_count]]
    rest = [Column(name, rng.choice(TYPES)) for name in names[key_count:]]
    half = len(rest) // 2
    keyed, keyless = rest[:half], rest[half:]
    if hostile:
        twin_keyed, twin_keyless = CASE_TWINS if rng.random() < 0.5 else CASE_TWINS[::-1]
        keyed.append(Column(twin_keyed, "decimal(18,4)"))
        keyless.append(Column(twin_keyless, "double"))
    tables.append(TableSpec("keyed_rows", key, keyed))
    tables.append(TableSpec("keyless_rows", [], keyless))
    return tables


@dataclass
class Landed:
    """What one session landed in one table, read back from landing right after landing."""

    columns: list[str]
    types: list[str]
    rows: Counter


@dataclass
class SessionRecord:
    session_id: str
    scope: str
    started_at: datetime
    status: str
    tables: dict[str, Landed] = field(default_factory=dict)


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class RandomLanding:
    """Lands random sessions and keeps what each landed. Rows of a scope evolve from the
    previous session: a few changes, deletions, insertions, and (keyless) duplicates."""

    def __init__(
        self, deployment: Deployment, rng: random.Random, tables: list[TableSpec], scopes: list[str]
    ):
        self.deployment = deployment
        self.rng = rng
        self.tables = {table.name: table for table in tables}
        self.scopes = scopes
        self.sessions: dict[str, SessionRecord] = {}
        self.counter = 0
        self.clock = {scope: datetime(2024, 1, 1, index) for index, scope in enumerate(scopes)}
        # (scope, table) -> the rows of the last session landed there
        self.state: dict[tuple[str, str], list[tuple]] = {}
        with deployment.landing() as landing:
            landing.execute(
                "create table sessions (session_id varchar, scope varchar, started_at timestamp, status varchar)"
            )
            for table in tables:
                columns = ", ".join(
                    f"{quote(column.name)} {column.type}" for column in table.all_columns
                )
                landing.execute(f"create table {quote(table.name)} (session_id varchar, {columns})")

    # --- rows -----------------------------------------------------------------------------
    def _random_row(self, table: TableSpec, key: tuple | None = None) -> tuple:
        key = key if key is not None else tuple(self._key_value(column) for column in table.key)
        return key + tuple(random_value(self.rng, column.type) for column in table.columns)

    def _key_value(self, column: Column) -> object:
        number = self.rng.randint(1, 60)
        if column.type != "varchar":
            return number
        return f"k{number} " + self.rng.choice(["", "ß", "名", "'"])

    def _next_rows(self, scope: str, table: TableSpec) -> list[tuple]:
        rng = self.rng
        previous = self.state.get((scope, table.name))
        if previous is None or rng.random() < 0.05:
            count = rng.choice([0, 1, 3, 8, 15]) if previous is None else rng.randint(0, 12)
            rows = [self._random_row(table) for _ in range(count)]
        else:
            rows = list(previous)
            for _ in range(rng.randint(0, 3)):  # changed values
                if rows:
                    index = rng.randrange(len(rows))
                    row = list(rows[index])
                    if table.columns:
                        position = len(table.key) + rng.randrange(len(table.columns))
                        row[position] = random_value(rng, table.all_columns[position].type)
                    rows[index] = tuple(row)
            for _ in range(rng.randint(0, 2)):  # deletions
                if rows:
                    rows.pop(rng.randrange(len(rows)))
            for _ in range(rng.randint(0, 3)):  # insertions (a key seen before may come back)
                rows.append(self._random_row(table))
            # Duplicates are data in keyless tables.
            if not table.key and rows and rng.random() < 0.5:
                rows.extend([rng.choice(rows)] * rng.randint(1, 3))
        if table.key:  # one row per key, non-null
            unique: dict[tuple, tuple] = {}
            for row in rows:
                key = row[: len(table.key)]
                if all(value is not None for value in key):
                    unique[key] = row
            rows = list(unique.values())
        return rows

    # --- sessions -------------------------------------------------------------------------
    def new_session_id(self, scope: str) -> str:
        self.counter += 1
        style = self.rng.choice(["plain", "quote", "space", "unicode", "slash"])
        suffix = {
            "plain": f"{self.counter:04d}",
            "quote": f"it's #{self.counter}",
            "space": f" {self.counter} spaced ",
            "unicode": f"phiên {self.counter} 🚀",
            "slash": f"{self.counter}/..\\x",
        }[style]
        return f"{scope}-{suffix}"

    def land(self, scope: str, status: str = "succeeded") -> SessionRecord:
        """One session in `scope`, after every session already landed there."""
        self.clock[scope] += timedelta(
            hours=self.rng.choice([1, 6, 24]), microseconds=self.rng.randint(0, 999)
        )
        record = SessionRecord(self.new_session_id(scope), scope, self.clock[scope], status)
        with self.deployment.landing() as landing:
            landing.execute(
                "insert into sessions values (?, ?, ?, ?)",
                [record.session_id, scope, record.started_at, status],
            )
            for table in self.tables.values():
                rows = self._next_rows(scope, table)
                if status != "failed":  # a failed session's rows are not the next one's start
                    self.state[(scope, table.name)] = rows
                names = ", ".join(quote(column.name) for column in table.all_columns)
                placeholders = ", ".join("?" for _ in range(len(table.all_columns) + 1))
                if rows:
                    landing.executemany(
                        f"insert into {quote(table.name)} (session_id, {names}) values ({placeholders})",
                        [[record.session_id, *row] for row in rows],
                    )
                result = landing.execute(
                    f"select * from {quote(table.name)} where session_id = ?", [record.session_id]
                )
                record.tables[table.name] = Landed(
                    [description[0] for description in result.description],
                    [str(description[1]) for description in result.description],
                    multiset(result.fetchall()),
                )
        self.sessions[record.session_id] = record
        return record

    def set_status(self, session_id: str, status: str) -> None:
        with self.deployment.landing() as landing:
            landing.execute(
                "update sessions set status = ? where session_id = ?", [status, session_id]
            )
        self.sessions[session_id].status = status

    def add_column(self, table_name: str, column: Column) -> None:
        """A column added mid-stream: sessions already backed up keep what they landed (no such
        column); sessions still waiting in landing now hold it (NULL), and that is what their
        backup will read, so that is what they must restore to."""
        backed_up = self._backed_up(table_name)
        with self.deployment.landing() as landing:
            landing.execute(
                f"alter table {quote(table_name)} add column {quote(column.name)} {column.type}"
            )
            for record in self.sessions.values():
                if table_name in record.tables and record.session_id not in backed_up:
                    result = landing.execute(
                        f"select * from {quote(table_name)} where session_id = ?",
                        [record.session_id],
                    )
                    record.tables[table_name] = Landed(
                        [description[0] for description in result.description],
                        [str(description[1]) for description in result.description],
                        multiset(result.fetchall()),
                    )
        table = self.tables[table_name]
        table.columns.append(column)
        for (scope, name), rows in self.state.items():
            if name == table_name:
                self.state[(scope, name)] = [row + (None,) for row in rows]

    def _backed_up(self, table_name: str) -> set[str]:
        """Sessions the manifest holds for the table (none before the first backup)."""
        return {
            session for session, table in backed_up_pairs(self.deployment) if table == table_name
        }

    def drop_column(self, table_name: str, column_name: str) -> None:
        with self.deployment.landing() as landing:
            landing.execute(f"alter table {quote(table_name)} drop column {quote(column_name)}")

    def succeeded(self) -> set[str]:
        return {
            record.session_id for record in self.sessions.values() if record.status == "succeeded"
        }

    def not_succeeded(self) -> set[str]:
        return set(self.sessions) - self.succeeded()


# --- faults ---------------------------------------------------------------------------------
HANG_SECONDS = 600
WRITE_VERBS = ("insert", "delete", "update", "merge", "create", "alter", "drop", "commit", "begin")


def read_trace(path: Path) -> list[tuple[int, str, str]]:
    """(statement number, node, statement) per line written by session_backup.faults."""
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        number, node, statement = (line.split("\t", 2) + ["", ""])[:3]
        entries.append((int(number), node, statement))
    return entries


def write_points(trace: list[tuple[int, str, str]]) -> list[tuple[int, str, str]]:
    """The statements of a run that write, or begin/commit a transaction: faults land around them."""
    return [entry for entry in trace if entry[2].lower().startswith(WRITE_VERBS)]


def writes_backup(statement: str) -> bool:
    """A statement that changes the backup itself (not its per-run working tables)."""
    lowered = statement.lower()
    return (
        lowered.startswith(("insert", "delete", "update", "merge"))
        and '"backup"."backup".' in lowered
    )


@contextmanager
def fault_environment(fault: str | None, trace: Path) -> Iterator[None]:
    with environment_set(
        {"SESSION_BACKUP_FAULT": fault or None, "SESSION_BACKUP_FAULT_TRACE": str(trace)}
    ):
        yield


@dataclass
class RunOutcome:
    exit_code: int  # -9 when the subprocess was killed
    output: str
    trace: list[tuple[int, str, str]]


def run_backup(deployment: Deployment, trace: Path, fault: str | None = None) -> RunOutcome:
    """`session-backup backup` in-process (CliRunner), optionally with a `raise` fault."""
    trace.unlink(missing_ok=True)
    # A fault that wedged dbt would hang the suite: dump every stack and exit instead.
    faulthandler.dump_traceback_later(HANG_SECONDS, exit=True)
    try:
        with fault_environment(fault, trace):
            result = deployment.cli(["backup"])
    finally:
        faulthandler.cancel_dump_traceback_later()
    return RunOutcome(result.exit_code, result.output, read_trace(trace))


def run_backup_killed(
    deployment: Deployment, trace: Path, fault: str, timeout: float = HANG_SECONDS
) -> RunOutcome:
    """`session-backup backup` in a subprocess that SIGKILLs itself at the fault."""
    trace.unlink(missing_ok=True)
    env = {
        **os.environ,
        **deployment.env,
        "SESSION_BACKUP_FAULT": fault,
        "SESSION_BACKUP_FAULT_TRACE": str(trace),
    }
    completed = subprocess.run(
        [sys.executable, "-c", "from session_backup.cli import run; run()", "backup"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=deployment.root,
    )
    return RunOutcome(completed.returncode, completed.stdout + completed.stderr, read_trace(trace))


# --- checks ---------------------------------------------------------------------------------
RESTORE_SCHEMA = "random_restore"


@dataclass
class Restored:
    columns: list[str]
    types: list[str]
    rows: Counter


def backed_up_pairs(deployment: Deployment) -> set[tuple[str, str]]:
    """Every (session, table) backup_manifest holds; none before the first backup."""
    if not deployment.backup_db.exists():
        return set()
    with deployment.backup_connection() as connection:
        exists = connection.execute(
            "select count(*) from information_schema.tables where table_catalog = 'backup' "
            "and table_schema = 'backup' and table_name = 'backup_manifest'"
        ).fetchone()[0]
        if not exists:
            return set()
        return {
            (row[0], row[1])
            for row in connection.execute(
                "select session_id, table_name from backup.backup.backup_manifest"
            ).fetchall()
        }


class RestoreChecker:
    """After every step: every (session, table) in backup_manifest restores as landed, and
    exactly as it did the first time it was seen backed up."""

    def __init__(self, deployment: Deployment, landing: RandomLanding, rng: random.Random) -> None:
        self.deployment = deployment
        self.landing = landing
        self.rng = rng
        self.fingerprints: dict[tuple[str, str], Restored] = {}
        self.compared = 0

    def manifest(self) -> set[tuple[str, str]]:
        return backed_up_pairs(self.deployment)

    def claimed(self) -> set[str]:
        with self.deployment.backup_connection() as connection:
            exists = connection.execute(
                "select count(*) from information_schema.tables where table_catalog = 'backup' "
                "and table_schema = 'backup' and table_name = 'backup_sessions'"
            ).fetchone()[0]
            if not exists:
                return set()
            return {
                row[0]
                for row in connection.execute(
                    "select session_id from backup.backup.backup_sessions"
                ).fetchall()
            }

    def _landed_columns_of(
        self, session_id: str, table: str, restored: Restored
    ) -> tuple[Restored, str | None]:
        """A SQL table function has one result shape, so `restore_<t>()` returns the table's
        newest stored layout (docs/decisions/0005): columns added to landing after the session
        come back NULL. Those, and only those, are dropped before comparing; the CLI restore
        must return exactly the session's own columns."""
        landed = self.landing.sessions[session_id].tables[table].columns
        later = {column.name for column in self.landing.tables[table].all_columns} - set(landed)
        extra = [index for index, name in enumerate(restored.columns) if name not in landed]
        if not extra:
            return restored, None
        where = f"sql {table} of {session_id!r}"
        unexpected = [
            restored.columns[index] for index in extra if restored.columns[index] not in later
        ]
        if unexpected:
            return restored, f"{where}: columns {unexpected} were never in landing"
        null = canonical(None)
        if any(row[index] != null for row in restored.rows for index in extra):
            return restored, f"{where}: columns added after the session are not NULL"
        keep = [index for index in range(len(restored.columns)) if index not in extra]
        rows: Counter = Counter()
        for row, count in restored.rows.items():
            rows[tuple(row[index] for index in keep)] += count
        return Restored(
            [restored.columns[index] for index in keep],
            [restored.types[index] for index in keep],
            rows,
        ), None

    def _compare(self, how: str, session_id: str, table: str, restored: Restored) -> list[str]:
        problems = []
        landed = self.landing.sessions[session_id].tables[table]
        where = f"{how} {table} of {session_id!r}"
        if restored.columns != landed.columns:
            problems.append(f"{where}: columns {restored.columns} != landed {landed.columns}")
        elif restored.types != landed.types:
            problems.append(f"{where}: types {restored.types} != landed {landed.types}")
        elif restored.rows != landed.rows:
            missing = list((landed.rows - restored.rows).items())[:2]
            extra = list((restored.rows - landed.rows).items())[:2]
            problems.append(
                f"{where}: {sum(restored.rows.values())} rows restored, {sum(landed.rows.values())} landed; "
                f"missing {_short(missing)}, extra {_short(extra)}"
            )
        first = self.fingerprints.setdefault((session_id, table), restored)
        if first != restored:
            problems.append(
                f"{where}: restore changed since it was first backed up "
                f"({len(first.columns)} cols/{sum(first.rows.values())} rows -> "
                f"{len(restored.columns)} cols/{sum(restored.rows.values())} rows)"
            )
        self.compared += 1
        return problems

    def check(self, cli_sessions: int = 2) -> list[str]:
        """Problems found, one line each; an empty list when everything restores exactly."""
        problems: list[str] = []
        manifest = self.manifest()
        claimed = self.claimed()
        never = self.landing.not_succeeded() & (claimed | {session for session, _ in manifest})
        if never:
            problems.append(
                f"sessions that did not succeed were claimed or backed up: {sorted(never)}"
            )
        unknown = {session for session, _ in manifest} - set(self.landing.sessions)
        if unknown:
            problems.append(f"manifest holds sessions never landed: {sorted(unknown)}")
        pairs = sorted(pair for pair in manifest if pair[0] in self.landing.sessions)
        with self.deployment.backup_connection() as connection:
            for session_id, table in pairs:
                try:
                    result = connection.execute(
                        f"select * from backup.backup.restore_{table}(?)", [session_id]
                    )
                    restored = Restored(
                        [d[0] for d in result.description],
                        [str(d[1]) for d in result.description],
                        multiset(result.fetchall()),
                    )
                except Exception as exc:  # noqa: BLE001 - a restore that cannot run is a finding
                    problems.append(
                        f"sql restore_{table}({session_id!r}) failed: {_first_line(exc)}"
                    )
                    continue
                restored, problem = self._landed_columns_of(session_id, table, restored)
                if problem:
                    problems.append(problem)
                    continue
                problems += self._compare("sql", session_id, table, restored)
        if pairs:
            problems += self.check_verify(len(pairs))
        # The CLI path on a sample: newest sessions first, then a random older one.
        by_session: dict[str, list[str]] = {}
        for session_id, table in pairs:
            by_session.setdefault(session_id, []).append(table)
        if by_session:
            ordered = sorted(by_session, key=lambda s: self.landing.sessions[s].started_at)
            sample = ordered[-cli_sessions:] + [self.rng.choice(ordered)]
            for session_id in dict.fromkeys(sample):
                problems += self.check_cli(session_id, by_session[session_id])
        return problems

    def check_verify(self, expected: int) -> list[str]:
        """`verify --all` recomputes every manifest checksum from the backup: all must match."""
        result = self.deployment.cli(["--json", "verify", "--all"])
        try:
            report = json.loads(result.output)
        except ValueError:
            return [f"verify --all exited {result.exit_code}: {_first_line(result.output)}"]
        if result.exit_code != 0 or report["failed"]:
            failed = [f"{item['table']} of {item['session_id']!r}" for item in report["failed"]]
            return [
                f"verify --all exited {result.exit_code}, {len(failed)} mismatch(es): {failed[:3]}"
            ]
        checked = report["checked"]
        if checked != expected:
            return [f"verify --all checked {checked} table backups, the manifest holds {expected}"]
        return []

    def check_cli(self, session_id: str, tables: list[str]) -> list[str]:
        args = ["restore", "--session", session_id, "--into", RESTORE_SCHEMA]
        for table in tables:
            args += ["--table", table]
        result = self.deployment.cli(args)
        if result.exit_code != 0:
            return [
                f"cli restore {session_id!r} {tables} exited {result.exit_code}: {_first_line(result.output)}"
            ]
        problems = []
        with self.deployment.backup_connection() as connection:
            for table in tables:
                query = connection.execute(
                    f"select * from backup.{quote(RESTORE_SCHEMA)}.{quote(table)}"
                )
                restored = Restored(
                    [d[0] for d in query.description],
                    [str(d[1]) for d in query.description],
                    multiset(query.fetchall()),
                )
                problems += self._compare("cli", session_id, table, restored)
        return problems


def _first_line(value: object) -> str:
    """The error line of an exception or of a command's output."""
    lines = [line.strip() for line in str(value).splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines or [""])[0][:300]


def _short(items: list) -> str:
    text = repr(items)
    return text if len(text) < 300 else text[:300] + "..."
