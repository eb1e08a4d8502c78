"""What dbt parsed: the declarations and the package's settings, read from dbt's manifest.

dbt is the one reader of the project's YAML and vars. The CLI asks it (`dbt parse`, which
writes target/manifest.json) and reads the result, so a declaration or a var means the same
thing to `dbt build` and to `session-backup`. The manifest is reused while no file of the
project changed since dbt wrote it, so most commands pay nothing for this.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from session_backup.config import Settings, load_settings
from session_backup.errors import BackupError

# The package model whose meta carries the resolved settings (macros/config/settings.sql).
SETTINGS_NODE = "model.session_backup.backup_manifest"
DEFAULT_SETTINGS = {
    "succeeded_status": "succeeded",
    "hash_version": "v2",
    "recheck_recent_sessions": 1,
    "session_backup_source": "landing",
    "session_backup_prefix": "backup_",
    "session_backup_folder": "models/session_backup",
}
# Folders of a project that are dbt's output or installed packages, never its own sources.
_NOT_SOURCES = {"target", "logs", "dbt_packages", "data", ".venv", "__pycache__"}


@dataclass(frozen=True)
class ParsedProject:
    settings: dict[str, Any]
    # (source name, table name, meta.backup or None, file it was declared in) per source table.
    source_tables: list[tuple[str, str, Any, str]]


def parsed_project(project_dir: Path) -> ParsedProject:
    """The project as dbt parsed it; runs `dbt parse` first when the manifest is missing or
    older than a file of the project."""
    settings = load_settings(project_dir)
    if _is_the_package(settings.project_dir):
        raise BackupError(
            f"{settings.project_dir} is the session_backup package itself, not a project that "
            "installs it: set --project-dir (or SESSION_BACKUP_PROJECT_DIR) to one, e.g. "
            "integration_tests/ (the demo deployment, what `make demo` backs up)."
        )
    path = settings.dbt_target_dir / "manifest.json"
    if not path.exists() or path.stat().st_mtime < _newest_project_file(settings.project_dir):
        _parse(settings)
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"Cannot read dbt's manifest {path}: {exc}") from exc
    return ParsedProject(_settings(manifest), _source_tables(manifest))


def _is_the_package(project_dir: Path) -> bool:
    try:
        first_lines = (project_dir / "dbt_project.yml").read_text().splitlines()
    except OSError:
        return False
    return (
        "name: session_backup" in first_lines
        and (project_dir / "macros/config/settings.sql").exists()
    )


def _newest_project_file(project_dir: Path) -> float:
    newest = 0.0
    stack = [project_dir]
    while stack:
        folder = stack.pop()
        try:
            entries = list(folder.iterdir())
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir() and not entry.is_symlink():
                if entry.name not in _NOT_SOURCES and not entry.name.startswith("."):
                    stack.append(entry)
            elif entry.suffix in {".yml", ".yaml", ".sql", ".csv"}:
                newest = max(newest, entry.stat().st_mtime)
    return newest


def _parse(settings: Settings) -> None:
    from session_backup.dbt_runner import run_dbt

    result = run_dbt(settings, ["--log-level", "none", "--log-level-file", "debug", "parse"])
    if not result.succeeded:
        detail = result.errors[0] if result.errors else "see logs/dbt.log"
        wants_deps = "package" in detail.lower() and "dbt deps" not in detail
        hint = " Run `dbt deps` to install it." if wants_deps else ""
        raise BackupError(f"dbt could not parse the project {settings.project_dir}: {detail}{hint}")


def _settings(manifest: dict) -> dict[str, Any]:
    node = (manifest.get("nodes") or {}).get(SETTINGS_NODE)
    if node is None:
        raise BackupError(
            "The session_backup package is not in this dbt project: add it to packages.yml "
            "and run `dbt deps` (README, 'Add it to your dbt project')."
        )
    resolved = ((node.get("config") or {}).get("meta") or {}).get("session_backup_settings")
    return {**DEFAULT_SETTINGS, **(resolved or {})}


def _source_tables(manifest: dict) -> list[tuple[str, str, Any, str]]:
    tables = []
    for source in (manifest.get("sources") or {}).values():
        backup = (source.get("meta") or {}).get("backup")
        tables.append(
            (
                source.get("source_name"),
                source.get("name"),
                backup,
                source.get("original_file_path"),
            )
        )
    return sorted(tables, key=lambda table: (str(table[0]), str(table[1])))
