"""Reads the backup declarations from the landing sources YAML (the single source of truth)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from session_backup.errors import BackupError

SOURCES_FILE = Path("models/landing/_landing__sources.yml")
STRATEGIES = ("history", "full", "incremental", "differential", "snapshot")
# Table names become relation and file names, so they must be plain identifiers.
TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


@dataclass(frozen=True)
class TableDeclaration:
    name: str
    key: tuple[str, ...] = ()
    strategy: str = "history"
    checkpoint_every: int = 10
    options: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_keyless(self) -> bool:
        return not self.key


def load_declarations(project_dir: Path) -> list[TableDeclaration]:
    """Every landing table with a `meta.backup` block, sorted by name."""
    path = project_dir / SOURCES_FILE
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError as exc:
        raise BackupError(
            f"{path} not found: is --project-dir the session_backup project?"
        ) from exc
    except yaml.YAMLError as exc:
        raise BackupError(f"{path} is not valid YAML: {exc}") from exc
    declarations = []
    for source in document.get("sources") or []:
        if source.get("name") != "landing":
            continue
        for table in source.get("tables") or []:
            backup = (table.get("meta") or {}).get("backup")
            if backup is None:
                continue
            declarations.append(_parse(path, table.get("name"), backup))
    return sorted(declarations, key=lambda declaration: declaration.name)


def _parse(path: Path, name: object, backup: object) -> TableDeclaration:
    where = f"{path}: table {name!r}"
    if not isinstance(name, str) or not TABLE_NAME.match(name):
        raise BackupError(f"{where}: table names must be identifiers (letters, digits, _).")
    if name == "sessions":
        raise BackupError(f"{where}: the sessions table is the registry, not a backed-up table.")
    if not isinstance(backup, dict):
        raise BackupError(f"{where}: meta.backup must be a mapping, e.g. {{key: [id]}}.")
    key = backup.get("key") or []
    if isinstance(key, str):
        key = [key]
    if not isinstance(key, list) or not all(isinstance(column, str) and column for column in key):
        raise BackupError(f"{where}: meta.backup.key must be a list of column names.")
    strategy = backup.get("strategy", "history")
    if strategy not in STRATEGIES:
        raise BackupError(
            f"{where}: unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}."
        )
    checkpoint_every = backup.get("checkpoint_every", 10)
    if not isinstance(checkpoint_every, int) or checkpoint_every < 1:
        raise BackupError(f"{where}: checkpoint_every must be a positive integer.")
    return TableDeclaration(
        name=name,
        key=tuple(key),
        strategy=strategy,
        checkpoint_every=checkpoint_every,
        options=dict(backup),
    )


def project_hash_version(project_dir: Path) -> str:
    """The `hash_version` var of dbt_project.yml: which row hash new checksums are taken with."""
    try:
        project = yaml.safe_load((project_dir / "dbt_project.yml").read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise BackupError(f"Cannot read {project_dir / 'dbt_project.yml'}: {exc}") from exc
    return str((project.get("vars") or {}).get("hash_version", "v1"))
