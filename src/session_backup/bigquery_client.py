"""BigQuery clients for the CLI: the same authentication as the dbt profile's `bigquery` target
(profiles.example.yml), and an emulator endpoint in CI.

Environment (as the profile reads it):
- SESSION_BACKUP_BQ_METHOD: `oauth` (default: Application Default Credentials),
  `service-account` (+ SESSION_BACKUP_BQ_KEYFILE) or `oauth-secrets` (+ SESSION_BACKUP_BQ_TOKEN).
- SESSION_BACKUP_BQ_PROJECT, SESSION_BACKUP_BQ_LOCATION.
- SESSION_BACKUP_BQ_API_ENDPOINT: a BigQuery API emulator (e.g. http://127.0.0.1:9050); the
  client then uses anonymous credentials and no Google service is contacted.
"""

from __future__ import annotations

from session_backup.config import Settings
from session_backup.errors import BackupError

EMULATOR_DEFAULT_PROJECT = "local-proj"


def _credentials(settings: Settings):
    """Credentials for the configured method, or None for Application Default Credentials."""
    method = settings.bigquery_method
    if method in ("", "oauth"):
        return None
    if method == "service-account":
        keyfile = settings.bigquery_keyfile
        if not keyfile:
            raise BackupError(
                "SESSION_BACKUP_BQ_METHOD=service-account needs SESSION_BACKUP_BQ_KEYFILE."
            )
        from google.oauth2 import service_account

        return service_account.Credentials.from_service_account_file(
            keyfile, scopes=["https://www.googleapis.com/auth/bigquery"]
        )
    if method == "oauth-secrets":
        token = settings.bigquery_token
        if not token:
            raise BackupError(
                "SESSION_BACKUP_BQ_METHOD=oauth-secrets needs SESSION_BACKUP_BQ_TOKEN."
            )
        from google.oauth2.credentials import Credentials

        return Credentials(token=token)
    raise BackupError(
        f"SESSION_BACKUP_BQ_METHOD={method!r} is not supported by the CLI "
        "(use oauth, service-account or oauth-secrets)."
    )


def make_bigquery_client(settings: Settings):
    from google.cloud import bigquery

    endpoint = settings.bigquery_api_endpoint
    project = settings.bigquery_project or None
    if endpoint:
        from google.auth.credentials import AnonymousCredentials

        return bigquery.Client(
            project=project or EMULATOR_DEFAULT_PROJECT,
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": endpoint},
            location=settings.bigquery_location,
        )
    try:
        credentials = _credentials(settings)
        return bigquery.Client(
            project=project, credentials=credentials, location=settings.bigquery_location
        )
    except BackupError:
        raise
    except Exception as exc:  # DefaultCredentialsError and friends
        raise BackupError(
            f"Cannot connect to BigQuery: {exc}. Set GOOGLE_APPLICATION_CREDENTIALS or run "
            "`gcloud auth application-default login` (or SESSION_BACKUP_BQ_METHOD and its key/token), "
            "and SESSION_BACKUP_BQ_PROJECT."
        ) from exc
