"""A dbt manifest.json written by hand, for tests of the CLI that do not run dbt: the CLI
reads declarations and settings from the parsed manifest (session_backup.dbt_project)."""

from __future__ import annotations

import json
from pathlib import Path

from session_backup.dbt_project import DEFAULT_SETTINGS, SETTINGS_NODE


def write_manifest(
    target_dir: Path, tables: dict[str, dict | None], source: str = "landing", **settings
) -> Path:
    """`tables`: name -> meta.backup (None: a source table that is not backed up)."""
    sources = {
        f"source.project.{source}.{name}": {
            "source_name": source,
            "name": name,
            "meta": {} if backup is None else {"backup": backup},
            "original_file_path": "models/landing/_landing__sources.yml",
        }
        for name, backup in tables.items()
    }
    node = {"config": {"meta": {"session_backup_settings": {**DEFAULT_SETTINGS, **settings}}}}
    target_dir.mkdir(parents=True, exist_ok=True)
    path = target_dir / "manifest.json"
    path.write_text(json.dumps({"nodes": {SETTINGS_NODE: node}, "sources": sources}))
    return path
