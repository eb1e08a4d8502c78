"""A seeded random session stream with injected failures: every backed-up session restores
exactly after every step, and never restores differently later.

Each test draws its tables (keyed and keyless; column names from a hostile alphabet or plain
ones), scopes and session ids, then releases sessions in random patterns: one new session per
scope per run (the production steady state), waves of several, everything at once (catch-up),
failed and running sessions interleaved, a column added mid-stream, a reserved column name that
the backup must refuse. Between steps it injects failures with session_backup.faults: an
exception raised at a random write statement or node (in-process), and a SIGKILL of a backup
running in a subprocess, at a random write statement (BEGIN/COMMIT included), then reruns.

After every run (successful, failed, refused or killed, and after the rerun) every
(session, table) in backup_manifest restores through `restore_<t>()` (all of them) and
`session-backup restore` (a sample) with the columns, types and multiset of rows it landed with,
value by value (NaN/-0.0 aware), and exactly as it restored the first time it was seen.

Three streams (STREAMS), so that one kind of failure does not hide the others: plain column
names with faults (the commit protocol), a column added mid-stream, and hostile names. "Amount"
and "amount" cannot share a table (DuckDB, like BigQuery, refuses column names that differ only
in case), so the hostile stream puts them in two tables of the same backup.

Small by default (a fixed seed, 10-20 sessions per stream, well under a minute each). Knobs:

    SESSION_BACKUP_SOAK_SEED=7        another seed; a failure message names the seed that replays it
    SESSION_BACKUP_SOAK_SESSIONS=400  sessions per stream, for a long soak

    SESSION_BACKUP_SOAK_SESSIONS=400 SESSION_BACKUP_SOAK_SEED=7 pytest tests/test_random_stream.py -s

`-s` prints, per stream, how many backups ran, restores were compared and where faults fired.
"""

from __future__ import annotations

import dataclasses
import os
import random
from collections import Counter
from pathlib import Path

import pytest
from support.project import Deployment
from support.random_stream import (
    HOSTILE_SCOPES,
    Column,
    RandomLanding,
    RestoreChecker,
    RunOutcome,
    random_tables,
    run_backup,
    run_backup_killed,
    write_points,
    writes_backup,
)

DEFAULT_SEED = 20261202
SEED = int(os.environ.get("SESSION_BACKUP_SOAK_SEED") or DEFAULT_SEED)
SESSIONS = int(os.environ.get("SESSION_BACKUP_SOAK_SESSIONS") or 0)


@dataclasses.dataclass(frozen=True)
class StreamConfig:
    name: str
    hostile: bool
    faults: bool
    add_column: bool
    refuse_reserved: bool
    sessions: int  # at least this many sessions land (SESSION_BACKUP_SOAK_SESSIONS)
    min_steps: int  # and at least this many release steps, each a run or a fault and a rerun


class Stream:
    """Drives one random stream: lands, backs up (with or without a fault), checks."""

    def __init__(self, root: Path, config: StreamConfig, seed: int) -> None:
        self.config = config
        self.seed = seed
        self.rng = random.Random(f"{seed}/{config.name}")
        tables = random_tables(self.rng, config.hostile)
        self.deployment = Deployment(root, {table.name: table.declaration for table in tables})
        # Scopes and session ids are hostile in every stream; `hostile` is about column names.
        scopes = self.rng.sample(HOSTILE_SCOPES, self.rng.randint(2, len(HOSTILE_SCOPES)))
        self.landing = RandomLanding(self.deployment, self.rng, tables, scopes)
        self.checker = RestoreChecker(self.deployment, self.landing, self.rng)
        self.trace = root / "trace.tsv"
        # The statements of the last clean run: where the next fault may land.
        self.reference: list[tuple[int, str, str]] = []
        self.running: list[str] = []
        self.log: list[str] = []
        self.step = 0
        self.faults_landed: Counter = Counter()
        self.runs = 0

    # --- failure reporting ----------------------------------------------------------------
    def fail(self, what: str, problems: list[str] | None = None) -> None:
        lines = [f"{what} (seed {self.seed}, stream {self.config.name}, step {self.step})"]
        lines += [f"  {problem}" for problem in (problems or [])[:12]]
        lines.append("  steps so far: " + " | ".join(self.log[-8:]))
        lines.append(
            f"  reproduce: SESSION_BACKUP_SOAK_SEED={self.seed} "
            f"pytest tests/test_random_stream.py -k {self.config.name}"
        )
        pytest.fail("\n".join(lines), pytrace=False)

    def check(self, after: str, run_error: str = "") -> None:
        problems = self.checker.check()
        if problems:
            detail = [f"the run said: {run_error}"] if run_error else []
            self.fail(
                f"after {after}: backed-up sessions do not restore as landed", detail + problems
            )

    def check_complete(self, after: str) -> None:
        """After a successful run every succeeded session has every table backed up."""
        tables = set(self.landing.tables)
        manifest = self.checker.manifest()
        missing = sorted(
            (session_id, table)
            for session_id in self.landing.succeeded()
            for table in tables
            if (session_id, table) not in manifest
        )
        if missing:
            self.fail(
                f"after {after}: succeeded sessions not backed up",
                [repr(pair) for pair in missing[:8]],
            )

    # --- releases -------------------------------------------------------------------------
    def release(self, remaining: int) -> str:
        rng = self.rng
        scopes = self.landing.scopes
        # Running sessions from the previous step finish before their scope lands anything new.
        for session_id in self.running:
            self.landing.set_status(session_id, "succeeded" if rng.random() < 0.8 else "failed")
        self.running = []
        if self.step == 1 and rng.random() < 0.5:
            pattern = "catch-up"
        else:
            pattern = rng.choices(
                ["steady", "wave", "one-scope", "idle", "catch-up"], [5, 2, 2, 1, 1]
            )[0]
        counts = {
            "steady": {scope: 1 for scope in scopes},
            "wave": {scope: rng.randint(0, 4) for scope in scopes},
            "one-scope": {rng.choice(scopes): 1},
            "idle": {},
            "catch-up": {scope: rng.randint(2, 5) for scope in scopes},
        }[pattern]
        landed = 0
        for scope, count in counts.items():
            for index in range(min(count, max(remaining - landed, 1))):
                last = index == count - 1
                status = "succeeded"
                draw = rng.random()
                if draw < 0.1:
                    status = "failed"
                elif draw < 0.2 and last:
                    status = "running"  # only the newest of a scope can still be running
                record = self.landing.land(scope, status)
                if status == "running":
                    self.running.append(record.session_id)
                landed += 1
        return f"{pattern}:{landed}"

    # --- runs -----------------------------------------------------------------------------
    def clean_run(self, label: str) -> RunOutcome:
        outcome = run_backup(self.deployment, self.trace)
        self.runs += 1
        if outcome.exit_code != 0:
            error = error_line(outcome.output)
            self.check(f"{label}, which failed on its own", error)
            self.fail(f"{label}: backup exited {outcome.exit_code}", [error])
        if any(entry[1] != "-" for entry in write_points(outcome.trace)):
            self.reference = outcome.trace
        self.check(label)
        self.check_complete(label)
        return outcome

    def choose_fault(self) -> tuple[str, str]:
        """A fault spec and where it lands, from the statements of the last clean run."""
        rng = self.rng
        action = "kill" if rng.random() < 0.4 else "raise"
        points = [entry for entry in write_points(self.reference) if entry[1] != "-"]
        # A node first, then one of its statements, so a step of many statements is not favoured;
        # half the time a node that writes the backup itself (History, Head, manifest), where a
        # fault matters most.
        core = sorted({entry[1] for entry in points if writes_backup(entry[2])})
        nodes = core if core and rng.random() < 0.5 else sorted({entry[1] for entry in points})
        node = rng.choice(nodes)
        if rng.random() < 0.2 and not node.startswith("session_backup-"):
            point = rng.choice(["before-node", "after-node"])
            return f"{action}:{point}:{node}", f"{point} {node}"
        number, node, statement = rng.choice([entry for entry in points if entry[1] == node])
        point = rng.choice(["before-statement", "after-statement"])
        verb = statement.split(" ", 1)[0].lower()
        return f"{action}:{point}:{number}", f"{point.split('-')[0]} {verb} in {node}"

    def faulted_run(self) -> None:
        fault, where = self.choose_fault()
        label = f"{fault} ({where})"
        if fault.startswith("kill"):
            outcome = run_backup_killed(self.deployment, self.trace, fault)
            fired = outcome.exit_code == -9
            if not fired and outcome.exit_code != 0:
                self.fail(
                    f"{label}: backup exited {outcome.exit_code} before the fault",
                    [outcome.output.strip()[-600:]],
                )
        else:
            outcome = run_backup(self.deployment, self.trace, fault)
            fired = "fault injected" in outcome.output
            if fired and outcome.exit_code == 0:
                self.fail(
                    f"{label}: the injected exception did not fail the run", [outcome.output[-600:]]
                )
            if not fired and outcome.exit_code != 0:
                self.fail(
                    f"{label}: backup exited {outcome.exit_code}", [outcome.output.strip()[-600:]]
                )
        self.runs += 1
        self.log.append(label + ("" if fired else " [did not fire]"))
        if fired:
            self.faults_landed[f"{fault.split(':')[0]} {where}"] += 1
        self.check(f"{label}")
        self.clean_run(f"rerun after {label}")

    def refused_run(self) -> None:
        """A landing column the backup reserves: refused with a clear error, nothing changes."""
        table = self.rng.choice(list(self.landing.tables))
        reserved = self.rng.choice(["backup_scope", "session_seq", "backup_valid_from_seq"])
        with self.deployment.landing() as landing:
            landing.execute(f'alter table "{table}" add column "{reserved}" integer')
        outcome = run_backup(self.deployment, self.trace)
        self.runs += 1
        self.log.append(f"reserved column {reserved} in {table}")
        if outcome.exit_code != 1 or reserved not in outcome.output:
            self.fail(
                f"reserved column {reserved!r} in {table}: expected exit 1 naming it, "
                f"got {outcome.exit_code}",
                [outcome.output.strip()[-600:]],
            )
        self.check(f"refused run (reserved column {reserved} in {table})")
        self.landing.drop_column(table, reserved)

    # --- the stream -----------------------------------------------------------------------
    def run(self) -> None:
        rng = self.rng
        remaining = self.config.sessions
        add_column_at = rng.randint(2, 4) if self.config.add_column else None
        refuse_at = rng.randint(2, 4) if self.config.refuse_reserved else None
        last_event = max(add_column_at or 0, refuse_at or 0, self.config.min_steps)
        while remaining > 0 or self.step < last_event:
            self.step += 1
            release = self.release(remaining)
            remaining = max(0, remaining - int(release.split(":")[1]))
            if self.step == add_column_at:
                table = rng.choice(list(self.landing.tables))
                taken = {column.name.lower() for column in self.landing.tables[table].all_columns}
                names = ["added_note", 'Neu "Spalte"', "added col.ü", "ORDER"]
                name = rng.choice([name for name in names if name.lower() not in taken])
                column = Column(name, rng.choice(["varchar", "double", "decimal(18,4)"]))
                self.landing.add_column(table, column)
                release += f", +column {name!r} in {table}"
                # Sessions that carry the new column; a running one ends first, so none of these
                # starts after a session still running in its scope.
                for session_id in self.running:
                    self.landing.set_status(session_id, "succeeded")
                self.running = []
                for scope in self.landing.scopes:
                    self.landing.land(scope)
                    remaining = max(0, remaining - 1)
            self.log.append(f"step {self.step}: {release}")
            if self.step == refuse_at:
                self.refused_run()
            if self.config.faults and self.reference and rng.random() < 0.8:
                self.faulted_run()
            else:
                self.clean_run(f"step {self.step} ({release})")
        # Running sessions left at the end finish, and one last run backs them up.
        for session_id in self.running:
            self.landing.set_status(session_id, "succeeded")
        self.step += 1
        self.clean_run("final run")


def error_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    error = next((line for line in lines if line.startswith("Error")), lines[-1] if lines else "")
    return error[:800]


STREAMS = [
    # The commit protocol on its own: plain column names (scopes and ids stay hostile), every
    # release pattern, faults at random write statements and nodes, each followed by a rerun.
    StreamConfig(
        "plain_faults",
        hostile=False,
        faults=True,
        add_column=False,
        refuse_reserved=False,
        sessions=20,
        min_steps=8,
    ),
    # A column added mid-stream (its name plain or hostile): sessions landed before it restore
    # without it, the ones after it with it; faults around the runs that first store it.
    StreamConfig(
        "new_column",
        hostile=False,
        faults=True,
        add_column=True,
        refuse_reserved=False,
        sessions=12,
        min_steps=5,
    ),
    # Identifiers are data: hostile column names in keyed and keyless tables, a reserved name
    # refused without changing anything, faults and reruns.
    StreamConfig(
        "hostile",
        hostile=True,
        faults=True,
        add_column=False,
        refuse_reserved=True,
        sessions=18,
        min_steps=6,
    ),
]


def report(stream: Stream) -> None:
    print(
        f"\n{stream.config.name}: seed {stream.seed}, {len(stream.landing.sessions)} sessions landed, "
        f"{stream.runs} backups, {stream.checker.compared} restores compared; faults fired: "
        + ", ".join(f"{where} x{count}" for where, count in sorted(stream.faults_landed.items()))
    )


@pytest.mark.parametrize("config", STREAMS, ids=[config.name for config in STREAMS])
def test_random_stream(tmp_path, config):
    if SESSIONS:
        config = dataclasses.replace(config, sessions=SESSIONS)
    stream = Stream(tmp_path, config, SEED)
    stream.run()
    report(stream)
    assert stream.checker.compared > 0
