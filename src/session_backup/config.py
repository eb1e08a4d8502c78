"""Where things are: one place that reads the environment, for the CLI and the benchmark."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    project_dir: Path
    target: str  # "duckdb" (embedded default) or "bigquery"
    backup_db: Path  # DuckDB file holding Head, History and manifests
    landing_db: Path  # DuckDB file holding the landing tables
    cold_root: str  # local folder or gs://bucket/prefix
    backup_schema: str  # schema (DuckDB) / dataset (BigQuery) of the backup
    bigquery_project: str
    bigquery_location: str
    landing_dataset: str

    @property
    def profiles_dir(self) -> Path:
        """profiles.yml if the user made one, else the example, which reads everything from env."""
        if os.environ.get("DBT_PROFILES_DIR"):
            return Path(os.environ["DBT_PROFILES_DIR"])
        return self.project_dir

    @property
    def dbt_log_dir(self) -> Path:
        """Where dbt writes dbt.log (its own default: <project>/logs)."""
        return _path(self.project_dir, os.environ.get("DBT_LOG_PATH") or "logs")

    @property
    def dbt_target_dir(self) -> Path:
        """Where dbt writes its manifest and compiled SQL (its own default: <project>/target)."""
        return _path(self.project_dir, os.environ.get("DBT_TARGET_PATH") or "target")


def _path(project_dir: Path, value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else project_dir / path


def load_settings(project_dir: str | Path | None = None) -> Settings:
    env = os.environ
    root = Path(project_dir or env.get("SESSION_BACKUP_PROJECT_DIR") or Path.cwd()).resolve()
    target = env.get("SESSION_BACKUP_TARGET", "duckdb")
    cold_root = env.get("SESSION_BACKUP_COLD_ROOT", "data/cold")
    if not cold_root.startswith("gs://"):
        cold_root = str(_path(root, cold_root))
    return Settings(
        project_dir=root,
        target=target,
        backup_db=_path(root, env.get("SESSION_BACKUP_DB", "data/backup.duckdb")),
        landing_db=_path(root, env.get("SESSION_BACKUP_LANDING_DB", "data/landing.duckdb")),
        cold_root=cold_root,
        # DuckDB: the profile's fixed schema; BigQuery: the dataset the profile reads from env.
        backup_schema=env.get("SESSION_BACKUP_BQ_DATASET", "backup")
        if target == "bigquery"
        else "backup",
        bigquery_project=env.get("SESSION_BACKUP_BQ_PROJECT", ""),
        bigquery_location=env.get("SESSION_BACKUP_BQ_LOCATION", "US"),
        landing_dataset=env.get("SESSION_BACKUP_LANDING_SCHEMA", "landing"),
    )
