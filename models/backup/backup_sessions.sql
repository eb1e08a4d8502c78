{#- Claims succeeded landing sessions for backup and gives each a gap-free sequence number
    within its scope, in (started_at, session_id) order. Append-only: a claimed session keeps
    its number forever, which is what makes interrupted runs safe to resume. -#}
{{ config(materialized='incremental', on_schema_change='fail', full_refresh=false,
          cluster_by=session_backup.cluster_columns(['session_id'])) }}

{%- if execute -%}
    {%- do session_backup.assert_valid_landing_sessions(this if is_incremental() else none) -%}
{%- endif %}

with

landing_sessions as (
    select
        session_id,
        scope,
        started_at
    from {{ session_backup.landing_source('sessions') }}
    where status = {{ session_backup.sql_string(session_backup.setting('succeeded_status')) }}
),

{% if is_incremental() -%}
already_claimed as (
    select
        scope,
        max(session_seq) as last_seq
    from {{ this }}
    group by scope
),

new_sessions as (
    select landing_sessions.*
    from landing_sessions
    where not exists (
        select 1
        from {{ this }} as claimed
        where claimed.session_id = landing_sessions.session_id
    )
),
{%- else -%}
already_claimed as (
    select
        scope,
        cast(0 as {{ dbt.type_bigint() }}) as last_seq
    from landing_sessions
    where 1 = 0
),

new_sessions as (
    select * from landing_sessions
),
{%- endif %}

numbered as (
    select
        new_sessions.session_id,
        new_sessions.scope,
        new_sessions.started_at,
        coalesce(already_claimed.last_seq, 0) + row_number() over (
            partition by new_sessions.scope
            order by new_sessions.started_at, new_sessions.session_id
        ) as session_seq
    from new_sessions
    left join already_claimed
        on new_sessions.scope = already_claimed.scope
)

select
    session_id,
    scope,
    started_at,
    cast(session_seq as {{ dbt.type_bigint() }}) as session_seq,
    {{ dbt.current_timestamp() }} as claimed_at
from numbered
