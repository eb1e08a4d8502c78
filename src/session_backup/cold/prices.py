"""The price list and the monthly storage cost estimate `tier` reports."""

from __future__ import annotations

from pathlib import Path

from session_backup.cold.names import ASSUMED_PARQUET_RATIO, DEFAULT_STORAGE_CLASS
from session_backup.config import Settings
from session_backup.errors import BackupError


def load_prices(settings: Settings, path: str | Path | None = None) -> tuple[dict, str]:
    """The price list: --prices / SESSION_BACKUP_PRICES, else <project>/prices.toml, else the
    packaged default; keys missing from an override fall back to the packaged file."""
    try:
        import tomllib
    except ImportError:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    packaged = Path(__file__).resolve().parent.parent / "prices.toml"  # the package's data file
    try:
        with open(packaged, "rb") as handle:
            prices = tomllib.load(handle)
    except FileNotFoundError as exc:  # a wheel built without package data
        raise BackupError(
            f"The packaged price list {packaged} is missing: reinstall session-backup, "
            "or give --prices PATH / SESSION_BACKUP_PRICES with a full price list."
        ) from exc
    chosen = path or settings.prices_file
    if not chosen and (Path(settings.project_dir) / "prices.toml").is_file():
        chosen = Path(settings.project_dir) / "prices.toml"
    source = str(packaged)
    if chosen:
        chosen_path = Path(chosen)
        try:
            with open(chosen_path, "rb") as handle:
                override = tomllib.load(handle)
        except FileNotFoundError as exc:
            raise BackupError(f"Prices file {chosen_path} not found.") from exc
        except tomllib.TOMLDecodeError as exc:
            raise BackupError(f"Prices file {chosen_path} is not valid TOML: {exc}") from exc
        prices = _merge(prices, override)
        source = str(chosen_path)
    return prices, source


def _merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = (
            _merge(base[key], value)
            if isinstance(value, dict) and isinstance(base.get(key), dict)
            else value
        )
    return merged


GIB = float(1 << 30)


def gcs_price(prices: dict, storage_class: str | None) -> float:
    return float(prices["gcs"][(storage_class or DEFAULT_STORAGE_CLASS).lower()])


def monthly_cost(prices: dict, hot: dict, cold: dict, local_class: str) -> dict:
    bigquery = prices["bigquery"]
    hot_cost = (hot["head_active"] + hot["history_active"]) / GIB * float(
        bigquery["active_logical"]
    ) + (hot["history_long_term"] / GIB * float(bigquery["long_term_logical"]))
    cold_cost = sum(
        item["bytes"] / GIB * gcs_price(prices, cls or local_class) for cls, item in cold.items()
    )
    return {
        "hot_usd": round(hot_cost, 10),
        "cold_usd": round(cold_cost, 10),
        "total_usd": round(hot_cost + cold_cost, 10),
    }


def measured_ratio(cold: dict) -> float:
    size = sum(item["bytes"] for item in cold.values())
    logical = sum(item["logical_bytes"] for item in cold.values())
    return size / logical if size and logical else ASSUMED_PARQUET_RATIO
