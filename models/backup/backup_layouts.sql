{#- The column layouts tables landed with: one row per column of each distinct layout. Each
    manifest row names its session's layout, so a restore returns the columns, names and types
    that session landed with. Rows are written by backup_commit (and the strategies' stores) in
    the same transaction as the manifest; this model only defines the table. -#}
{{ config(materialized='incremental', on_schema_change='fail', full_refresh=false) }}

select
    cast(null as {{ dbt.type_string() }}) as table_name,
    cast(null as {{ dbt.type_string() }}) as layout_id,
    cast(null as {{ dbt.type_bigint() }}) as column_position,
    cast(null as {{ dbt.type_string() }}) as column_name,
    cast(null as {{ dbt.type_string() }}) as data_type,
    cast(null as {{ dbt.type_timestamp() }}) as recorded_at
from {{ ref('backup_sessions') }}
where 1 = 0
