"""BigQuery and GCS clients: real credentials in production, an emulator endpoint in CI."""

from __future__ import annotations

import os

from session_backup.config import Settings
from session_backup.errors import BackupError


def make_bigquery_client(settings: Settings):
    from google.cloud import bigquery

    endpoint = os.environ.get("SESSION_BACKUP_BQ_API_ENDPOINT")
    project = settings.bigquery_project or None
    if endpoint:
        from google.auth.credentials import AnonymousCredentials

        return bigquery.Client(
            project=project or "local-proj",
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": endpoint},
            location=settings.bigquery_location,
        )
    try:
        return bigquery.Client(project=project, location=settings.bigquery_location)
    except Exception as exc:  # DefaultCredentialsError and friends
        raise BackupError(
            f"Cannot connect to BigQuery: {exc}. Set GOOGLE_APPLICATION_CREDENTIALS or run "
            "`gcloud auth application-default login`, and SESSION_BACKUP_BQ_PROJECT."
        ) from exc
