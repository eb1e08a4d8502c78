"""The tests' own restore check (support.project.assert_session_restores) catches what it must:
a -0.0 restored as 0.0, a duplicate lost, a value changed, a column retyped; and it lets a NaN
restored with another sign bit pass (decision 0004). It runs on a hand-made backup catalog, so
it needs no dbt."""

from __future__ import annotations

import duckdb
import pytest
from support.project import assert_session_restores

LANDED = [
    ("s1", 1, -0.0, "a", "1.5000"),
    ("s1", 1, -0.0, "a", "1.5000"),  # a real duplicate
    ("s1", 2, float("nan"), "NULL", None),
    ("s1", 3, float("inf"), "", None),
]


def check(restored_rows: list[tuple], restored_type: str = "decimal(18, 4)") -> None:
    connection = duckdb.connect()
    connection.execute("attach ':memory:' as landing")
    connection.execute("attach ':memory:' as backup")
    connection.execute("create schema backup.backup")
    connection.execute(
        'create table landing.main."t" (session_id varchar, id integer, x double, '
        "label varchar, amount decimal(18, 4))"
    )
    connection.executemany('insert into landing.main."t" values (?, ?, ?, ?, ?)', LANDED)
    connection.execute(
        "create table backup.backup.stored (session_id varchar, id integer, x double, "
        f"label varchar, amount {restored_type})"
    )
    connection.executemany("insert into backup.backup.stored values (?, ?, ?, ?, ?)", restored_rows)
    connection.execute(
        "create macro backup.backup.restore_t(s) as table "
        "select * from backup.backup.stored where session_id = s"
    )
    landing = connection.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_catalog = 'landing' and table_name = 't' order by ordinal_position"
    ).fetchall()
    assert_session_restores(connection, "t", "s1", landing)


def test_an_exact_restore_passes_and_any_nan_is_one_value():
    check(LANDED)
    check([row if row[1] != 2 else (*row[:2], -float("nan"), *row[3:]) for row in LANDED])


@pytest.mark.parametrize(
    "restored",
    [
        [(*LANDED[0][:2], 0.0, *LANDED[0][3:]), *LANDED[1:]],  # -0.0 became 0.0
        LANDED[1:],  # a duplicate lost
        [*LANDED, LANDED[3]],  # a row too many
        [*LANDED[:3], ("s1", 3, float("inf"), None, None)],  # '' became NULL
        [*LANDED[:2], ("s1", 2, float("nan"), None, None), LANDED[3]],  # 'NULL' became NULL
        [*LANDED[:3], ("s1", 3, float("inf"), "", "0.0001")],  # a value changed
    ],
    ids=["signed-zero", "lost-duplicate", "extra-row", "empty-string", "null-text", "value"],
)
def test_a_difference_fails(restored):
    with pytest.raises(AssertionError):
        check(restored)


def test_a_retyped_column_fails():
    with pytest.raises(AssertionError):
        check(LANDED, restored_type="double")
