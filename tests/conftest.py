import sys
from pathlib import Path

import pytest

# tests/support is a plain package of helpers shared by the test modules.
sys.path.insert(0, str(Path(__file__).resolve().parent))

# Modules that run no dbt and start no emulator: `make test-fast` (pytest -m fast).
FAST_MODULES = {
    "test_blog_figures",
    "test_cli_fast",
    "test_estimate",
    "test_generate_landing",
    "test_restore_check",
}
# Fixtures that start the BigQuery or GCS emulator: their tests are marked `emulator`.
EMULATOR_FIXTURES = {"emulator", "gcs_endpoint", "bigquery_backup", "backed_up", "landing_stream"}
EMULATOR_MODULES = {
    "test_bigquery",
    "test_tiering_bigquery",
    "test_tiering_gcs",
    "test_emulators_smoke",
}


def pytest_collection_modifyitems(items):
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        if module in FAST_MODULES:
            item.add_marker(pytest.mark.fast)
        if module in EMULATOR_MODULES or EMULATOR_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.emulator)
