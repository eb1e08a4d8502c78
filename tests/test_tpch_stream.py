"""End to end on the demo's TPC-H stream: 3 scopes x 12 sessions, backed up in two waves (the
second one a catch-up after an 'outage'); every table of every session restores exactly."""

from __future__ import annotations

import sys

import yaml
from support.project import INTEGRATION, REPO, Deployment, assert_restores_exactly

sys.path.insert(0, str(REPO / "scripts"))
from generate_landing import generate


def repo_declarations() -> dict[str, dict]:
    sources = yaml.safe_load((INTEGRATION / "models/landing/_landing__sources.yml").read_text())[
        "sources"
    ]
    tables = sources[0]["tables"]
    return {table["name"]: table["meta"]["backup"] for table in tables if "meta" in table}


def test_tpch_stream_restores_exactly(tmp_path):
    declarations = repo_declarations()
    deployment = Deployment(tmp_path, declarations)
    common = {
        "landing_db": deployment.landing_db,
        "scale_factor": 0.01,
        "seed": 7,
        "start": "2024-01-01T00:00:00",
        "status": "succeeded",
        "failed_every": 5,
        "tables": None,
    }
    generate(scopes=["VN", "DE", "US"], sessions=8, append=False, **common)
    assert deployment.backup().exit_code == 0
    generate(scopes=None, sessions=4, append=True, **common)
    result = deployment.backup()
    assert result.exit_code == 0, result.output

    sessions = deployment.sessions()
    assert len(sessions) >= 28  # 36 landed, every 5th failed
    compared = assert_restores_exactly(deployment, list(declarations))
    assert compared == len(sessions) * len(declarations)
    verify = deployment.cli(["verify", "--all"])
    assert verify.exit_code == 0, verify.output

    with deployment.backup_connection() as connection:
        stored = connection.execute(
            "select (select count(*) from backup.backup.head_lineitem) + (select count(*) from backup.backup.history_lineitem)"
        ).fetchone()[0]
        landed = connection.execute(
            "select count(*) from landing.main.lineitem where session_id in (select session_id from backup.backup.backup_sessions)"
        ).fetchone()[0]
    assert stored < landed / 5  # 12 sessions per scope, ~0.3 % churn: far below full copies
