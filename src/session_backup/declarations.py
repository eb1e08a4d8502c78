"""The backup declarations (`meta.backup` of the landing source's tables), as dbt parsed them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from session_backup.dbt_project import parsed_project
from session_backup.errors import BackupError

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

    @property
    def folds_checksums(self) -> bool:
        """Whether change detection takes the sessions' checksums (keyed History tables; the
        macro folds_checksums says the same to dbt), so the table has no checksums_<t> node."""
        return self.strategy == "history" and not self.is_keyless


def load_declarations(project_dir: Path) -> list[TableDeclaration]:
    """Every table of the landing source (var session_backup_source) with a `meta.backup`
    block, as dbt parsed them, sorted by name."""
    project = parsed_project(project_dir)
    source_name = project.settings["session_backup_source"]
    declarations = []
    for source, name, backup, path in project.source_tables:
        if source != source_name or backup is None:
            continue
        declarations.append(_parse(Path(path or "?"), name, backup))
    return sorted(declarations, key=lambda declaration: declaration.name)


def project_settings(project_dir: Path) -> dict:
    """The package's settings as dbt resolved them (macros/config/settings.sql)."""
    return parsed_project(project_dir).settings


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
    """The `hash_version` dbt resolved: which row hash new checksums are taken with."""
    return str(project_settings(project_dir)["hash_version"])
