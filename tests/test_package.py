"""The package as an analytics engineer installs it: in a project with its own models, its own
source name, folder and prefix; nothing of the demo or the tests comes along."""

from __future__ import annotations

import yaml
from support.project import REPO, Deployment, assert_restores_exactly

OWN_SETTINGS = {
    "session_backup_source": "raw_landing",
    "session_backup_prefix": "sb_",
    "session_backup_folder": "models/vendor/backup",
}


def consumer_deployment(tmp_path) -> Deployment:
    """A project with a model named like a declared table (`orders`) and one named like a
    backup table (`head_orders`), and its own source name, folder and prefix."""
    deployment = Deployment(tmp_path, {}, generate=False)
    project = deployment.project
    config = yaml.safe_load((project / "dbt_project.yml").read_text())
    config["vars"] = dict(OWN_SETTINGS)
    # Its own models live in their own folder and schema, as a project's usually do.
    config["models"] = {"consumer_project": {"marts": {"+schema": "analytics"}}}
    (project / "dbt_project.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    sources_path = project / "models/landing/_landing__sources.yml"
    sources = yaml.safe_load(sources_path.read_text())
    sources["sources"][0]["name"] = "raw_landing"
    sources["sources"][0]["tables"] = [
        {"name": "sessions"},
        {"name": "orders", "meta": {"backup": {"key": ["order id"]}}},
        {"name": "events", "meta": {"backup": {}}},
    ]
    sources_path.write_text(yaml.safe_dump(sources, sort_keys=False))
    # The project's own models, which a backup run must never build.
    (project / "models/marts").mkdir(parents=True)
    (project / "models/marts/orders.sql").write_text(
        "select * from {{ source('raw_landing', 'orders') }}\n"
    )
    (project / "models/marts/head_orders.sql").write_text("select 1 as mine\n")
    with deployment.landing() as landing:
        landing.execute("""
            create table sessions (session_id varchar, scope varchar, started_at timestamp, status varchar);
            create table orders (session_id varchar, "order id" integer, "Total €" double);
            create table events (session_id varchar, kind varchar);
        """)
    return deployment


def land(deployment: Deployment, session_id: str, started_at: str, total: float) -> None:
    with deployment.landing() as landing:
        landing.execute(
            "insert into sessions values (?, 'VN', ?, 'succeeded')", [session_id, started_at]
        )
        landing.execute(
            "insert into orders values (?, 1, ?), (?, 2, 7.5)", [session_id, total, session_id]
        )
        landing.execute("insert into events values (?, 'a'), (?, 'a')", [session_id, session_id])


def test_generate_follows_the_projects_folder_prefix_and_source(tmp_path):
    deployment = consumer_deployment(tmp_path)
    generated = deployment.cli(["generate", "--json"])
    assert generated.exit_code == 0, generated.output
    written = sorted(yaml.safe_load(generated.stdout)["written"])
    assert written and all(path.startswith("models/vendor/backup/") for path in written), written
    assert "models/vendor/backup/tables/sb_history_orders.sql" in written
    assert "models/vendor/backup/tables/sb_commit.sql" in written
    history = (deployment.project / "models/vendor/backup/tables/sb_history_orders.sql").read_text()
    assert "alias='history_orders'" in history and "full_refresh" not in history
    changes = (
        deployment.project / "models/vendor/backup/staging/sb_changes_orders.sql"
    ).read_text()
    assert "source('raw_landing', 'orders')" in changes
    assert deployment.cli(["generate", "--check"]).exit_code == 0


def test_a_backup_builds_only_the_backup_and_restores_exactly(tmp_path):
    deployment = consumer_deployment(tmp_path)
    assert deployment.cli(["generate"]).exit_code == 0
    land(deployment, "vn-1", "2024-01-01", 10.0)
    first = deployment.backup()
    assert first.exit_code == 0, first.output
    land(deployment, "vn-2", "2024-01-02", 11.0)
    second = deployment.backup()
    assert second.exit_code == 0, second.output
    assert assert_restores_exactly(deployment, ["orders", "events"]) == 4
    with deployment.backup_connection() as connection:
        relations = {
            (schema, name)
            for schema, name in connection.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_catalog = 'backup'"
            ).fetchall()
        }
    # Its own `orders` and `head_orders` models were not built; the backup's tables were.
    assert not {name for schema, name in relations if schema == "backup_analytics"}
    assert ("backup", "history_orders") in relations and ("backup", "head_orders") in relations
    assert ("backup_staging", "changes_orders") in relations
    head = (deployment.project / "models/marts/head_orders.sql").read_text()
    assert head == "select 1 as mine\n"


def test_the_package_ships_nothing_of_the_demo_or_the_tests():
    """What `dbt deps` installs is the repository root as dbt reads it: its model, seed,
    snapshot, test and macro paths."""
    config = yaml.safe_load((REPO / "dbt_project.yml").read_text())
    shipped = [
        path
        for key in ("model-paths", "seed-paths", "snapshot-paths", "test-paths", "analysis-paths")
        for folder in config.get(key, [])
        for path in (REPO / folder).rglob("*")
        if path.is_file() and path.suffix in {".sql", ".yml", ".csv", ".py"}
    ]
    names = sorted(str(path.relative_to(REPO)) for path in shipped)
    assert names == [
        "models/backup/_backup__cli_tables.yml",
        "models/backup/_backup__models.yml",
        "models/backup/backup_layouts.sql",
        "models/backup/backup_manifest.sql",
        "models/backup/backup_sessions.sql",
    ], names
    text = "\n".join(path.read_text() for path in shipped)
    assert "tpch" not in text.lower() and "source('landing'" not in text
    assert "vars" not in config and "seeds" not in config
