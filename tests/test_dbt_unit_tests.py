"""dbt's own `unit_tests:` (integration_tests/models/testing): the row hash and the gaps-and-islands macro, checked
by dbt on fixtures, run here so that CI runs them on every change."""

from __future__ import annotations

import shutil

import duckdb
from support.project import INTEGRATION, REPO


def test_dbt_unit_tests_pass(tmp_path, monkeypatch):
    from session_backup.config import load_settings
    from session_backup.dbt_runner import run_dbt

    shutil.copy(REPO / "profiles.example.yml", tmp_path / "profiles.yml")
    with duckdb.connect(str(tmp_path / "landing.duckdb")) as landing:
        landing.execute(
            "create table sessions (session_id varchar, scope varchar, started_at timestamp, status varchar)"
        )
    for name, value in {
        "SESSION_BACKUP_PROJECT_DIR": str(INTEGRATION),
        "SESSION_BACKUP_DB": str(tmp_path / "backup.duckdb"),
        "SESSION_BACKUP_LANDING_DB": str(tmp_path / "landing.duckdb"),
        "SESSION_BACKUP_TARGET": "duckdb",
        "DBT_PROFILES_DIR": str(tmp_path),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(INTEGRATION)
    # Unit tests read their inputs' columns from the warehouse: build the wrappers empty first.
    built = run_dbt(
        settings,
        [
            "build",
            "--select",
            "path:models/testing",
            "path:seeds/testing",
            "--exclude-resource-type",
            "unit_test",
            "--empty",
        ],
    )
    assert built.succeeded, built.errors
    result = run_dbt(settings, ["test", "--select", "test_type:unit"])
    assert result.succeeded, result.errors
    assert len(result.node_timings) >= 4, result.node_timings
