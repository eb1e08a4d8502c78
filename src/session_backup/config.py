"""Where things are: one place that reads the environment, for the CLI and the benchmark.

Cold storage settings are read here too, so the cold package never looks at the environment:
the cold root (SESSION_BACKUP_COLD_ROOT: a folder or gs://bucket/prefix), the storage class of
new objects, the local cache for gs:// files, how BigQuery reads cold files, the GCS endpoint
and project, the folder the BigQuery emulator exports to, and the price list.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

DEFAULT_COLD_STORAGE_CLASS = "COLDLINE"
COLD_FAULT_ENV = "SESSION_BACKUP_FAIL_AFTER"


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
    # Cold storage (docs/cold-storage.md).
    cold_storage_class: str = DEFAULT_COLD_STORAGE_CLASS  # of new GCS objects
    cold_cache_dir: Path | None = None  # gs:// files DuckDB reads; None: next to the backup
    cold_reads: str = "external"  # BigQuery: `external` (GCS in place) or `load`
    gcs_endpoint: str | None = None  # an emulator or private endpoint (anonymous credentials)
    gcs_project: str | None = None
    bigquery_export_local_root: Path | None = None  # where the emulator's EXPORT DATA lands
    prices_file: str | None = None  # overrides the packaged price list
    cold_fail_after: str | None = None  # tests only: a fault injection point (cold/faults.py)
    # Where landing lives when not where the profile says by default (as the dbt source reads it).
    landing_database: str | None = None
    # BigQuery client of the CLI (the dbt profile reads the same variables).
    bigquery_method: str = "oauth"
    bigquery_keyfile: str = ""
    bigquery_token: str = ""
    bigquery_api_endpoint: str | None = None  # an emulator; None: Google
    bigquery_lock_ttl: str | None = None  # seconds, validated by the lock
    bigquery_lock_poll: str | None = None
    # Tests only: a fault to inject into a dbt run and a statement trace (faults.py).
    fault_spec: str = ""
    fault_trace: str | None = None

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
        landing_dataset=env.get(
            "SESSION_BACKUP_LANDING_SCHEMA", "landing" if target == "bigquery" else "main"
        ),
        cold_storage_class=(
            env.get("SESSION_BACKUP_COLD_STORAGE_CLASS") or DEFAULT_COLD_STORAGE_CLASS
        ).upper(),
        cold_cache_dir=(
            _path(root, env["SESSION_BACKUP_COLD_CACHE"])
            if env.get("SESSION_BACKUP_COLD_CACHE")
            else None
        ),
        cold_reads=(env.get("SESSION_BACKUP_BQ_COLD_READS") or "external").strip().lower(),
        gcs_endpoint=env.get("SESSION_BACKUP_GCS_ENDPOINT")
        or env.get("STORAGE_EMULATOR_HOST")
        or None,
        gcs_project=env.get("SESSION_BACKUP_GCS_PROJECT")
        or env.get("SESSION_BACKUP_BQ_PROJECT")
        or None,
        bigquery_export_local_root=(
            Path(env["SESSION_BACKUP_BQ_EXPORT_LOCAL_ROOT"])
            if env.get("SESSION_BACKUP_BQ_EXPORT_LOCAL_ROOT")
            else None
        ),
        prices_file=env.get("SESSION_BACKUP_PRICES") or None,
        cold_fail_after=env.get(COLD_FAULT_ENV) or None,
        landing_database=env.get("SESSION_BACKUP_LANDING_DATABASE") or None,
        bigquery_method=env.get("SESSION_BACKUP_BQ_METHOD", "oauth"),
        bigquery_keyfile=env.get("SESSION_BACKUP_BQ_KEYFILE", ""),
        bigquery_token=env.get("SESSION_BACKUP_BQ_TOKEN", ""),
        bigquery_api_endpoint=env.get("SESSION_BACKUP_BQ_API_ENDPOINT") or None,
        bigquery_lock_ttl=env.get("SESSION_BACKUP_BQ_LOCK_TTL_SECONDS") or None,
        bigquery_lock_poll=env.get("SESSION_BACKUP_BQ_LOCK_POLL_SECONDS") or None,
        fault_spec=env.get("SESSION_BACKUP_FAULT", "").strip(),
        fault_trace=env.get("SESSION_BACKUP_FAULT_TRACE", "").strip() or None,
    )


@contextmanager
def environment_set(values: dict[str, str | None]) -> Iterator[None]:
    """`values` in the process environment (None: unset) while the block runs, then every
    variable back as it was: for dbt in-process, which reads its profile's variables there."""
    saved = {key: os.environ.get(key) for key in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def profile_environment(settings: Settings) -> Iterator[None]:
    """The DuckDB files of `settings` in the variables the dbt profile reads, while dbt runs
    in-process (a caller's settings may name other files than the environment does)."""
    with environment_set(
        {
            "SESSION_BACKUP_DB": str(settings.backup_db),
            "SESSION_BACKUP_LANDING_DB": str(settings.landing_db),
        }
    ):
        yield
