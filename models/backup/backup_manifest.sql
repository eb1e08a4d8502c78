{#- One row per (session, table) backed up: the landing row count and checksum taken at backup
    time. Rows are written by backup_commit in the same transaction as every History and Head
    change of the run, so a table counts as backed up for a session exactly when this row exists.
    This model only defines the table; it never adds rows itself. -#}
{#- Its meta carries the package's settings as dbt resolved them: the CLI reads them from the
    parsed manifest (src/session_backup/dbt_project.py) instead of reading YAML itself. -#}
{{ config(materialized='incremental', on_schema_change='append_new_columns', full_refresh=false,
          cluster_by=session_backup.cluster_columns(['session_id', 'table_name']),
          meta={'session_backup_settings': session_backup.settings()}) }}

select
    cast(null as {{ dbt.type_string() }}) as session_id,
    cast(null as {{ dbt.type_string() }}) as table_name,
    cast(null as {{ dbt.type_bigint() }}) as row_count,
    cast(null as {{ dbt.type_bigint() }}) as checksum_low,
    cast(null as {{ dbt.type_bigint() }}) as checksum_high,
    cast(null as {{ dbt.type_bigint() }}) as closed_versions,
    cast(null as {{ dbt.type_bigint() }}) as closed_checksum_low,
    cast(null as {{ dbt.type_bigint() }}) as closed_checksum_high,
    cast(null as {{ dbt.type_string() }}) as hash_version,
    cast(null as {{ dbt.type_string() }}) as layout_id,
    cast(null as {{ dbt.type_timestamp() }}) as backed_up_at
from {{ ref('backup_sessions') }}
where 1 = 0
