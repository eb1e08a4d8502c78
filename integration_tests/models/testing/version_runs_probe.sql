{#- Thin wrapper that unit tests the version_runs macro (the interval logic of every backup). -#}
with

all_states as (
    select * from {{ ref('version_states') }}
)

select * from (
    {{ session_backup.version_runs('all_states', ['item_key'], ['backup_row_hash'], 'backup_row_hash') }}
) as versions
