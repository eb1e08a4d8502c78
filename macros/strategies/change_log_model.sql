{% macro change_log_model(table_name) %}
    {#- Strategies `incremental` and `differential`: per session, only the rows added and removed,
        with a full checkpoint every `checkpoint_every` sessions of a scope.
          incremental:  changes against the previous session; restore replays the checkpoint
                        and every change since.
          differential: changes against the session's checkpoint; restore is the checkpoint
                        plus one set of changes.
        A row is identified by its content, the 128-bit pair (row_hash, content_check_hash), and
        carries a signed multiplicity `backup_row_count`, so duplicates and keyless tables are
        exact. Removed rows store only their identity and a negative count. Every session also
        writes one marker row (count 0) naming its checkpoint, so an empty session restores too.
        All pending sessions of a batch are processed together, set-based. -#}
    {%- if not execute -%}
        select 1 as placeholder
    {%- else -%}
    {%- set table = session_backup.backup_table_config(table_name) -%}
    {%- set columns = session_backup.landing_columns(table_name) -%}
    {%- do session_backup.assert_no_reserved_columns(table_name, columns) -%}
    {%- set store = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
    {%- set every = table.checkpoint_every | int -%}
    {%- set identity = ['backup_scope', 'session_seq', 'backup_checkpoint_seq', 'backup_row_hash', 'backup_row_check_hash'] -%}
with

pending_sessions as (
    {#- The sessions the manifest rows of this run are taken from, so data and manifest agree. -#}
    select
        session_id,
        backup_scope,
        session_seq
    from {{ session_backup.backup_ref('checksums', table_name) }}
    where not is_recheck
),

stored_progress as (
    {%- if store %}
    select
        backup_scope,
        max(backup_checkpoint_seq) as last_checkpoint_seq
    from {{ store }}
    group by backup_scope
    {%- else %}
    select
        backup_scope,
        cast(null as {{ dbt.type_bigint() }}) as last_checkpoint_seq
    from pending_sessions
    where 1 = 0
    {%- endif %}
),

batch_bounds as (
    select
        backup_scope,
        min(session_seq) as first_seq
    from pending_sessions
    group by backup_scope
),

next_checkpoints as (
    {#- A scope's first session is a checkpoint; then one every {{ every }} sessions. -#}
    select
        batch_bounds.backup_scope,
        batch_bounds.first_seq,
        stored_progress.last_checkpoint_seq,
        case
            when stored_progress.last_checkpoint_seq is null then batch_bounds.first_seq
            else greatest(stored_progress.last_checkpoint_seq + {{ every }}, batch_bounds.first_seq)
        end as next_checkpoint_seq
    from batch_bounds
    left join stored_progress
        on batch_bounds.backup_scope = stored_progress.backup_scope
),

scheduled_sessions as (
    select
        pending_sessions.session_id,
        pending_sessions.backup_scope,
        pending_sessions.session_seq,
        case
            when pending_sessions.session_seq < next_checkpoints.next_checkpoint_seq
                then next_checkpoints.last_checkpoint_seq
            else next_checkpoints.next_checkpoint_seq + {{ session_backup.integer_divide(
                'pending_sessions.session_seq - next_checkpoints.next_checkpoint_seq', every) }} * {{ every }}
        end as backup_checkpoint_seq,
        pending_sessions.session_seq = next_checkpoints.first_seq as is_first_of_batch
    from pending_sessions
    inner join next_checkpoints
        on pending_sessions.backup_scope = next_checkpoints.backup_scope
),

landing_rows as (
    {#- Identities only: this is what every session is compared on. Values are read again
        below for the few rows that are stored, so a batch of many sessions never holds all
        their values at once. -#}
    select
        scheduled_sessions.backup_scope,
        scheduled_sessions.session_seq,
        scheduled_sessions.backup_checkpoint_seq,
        {{ session_backup.row_hash(columns, 'landing') }} as backup_row_hash,
        {{ session_backup.content_check_hash(columns, 'landing') }} as backup_row_check_hash
    from {{ session_backup.landing_source(table_name) }} as landing
    inner join scheduled_sessions
        on landing.session_id = scheduled_sessions.session_id
),

landing_states as (
    {#- Each session as a multiset of content identities with their multiplicity. Values are
        picked up later only for the rows that are stored (checkpoints and added rows). -#}
    select
        {{ identity | join(',\n        ') }},
        cast(count(*) as {{ dbt.type_bigint() }}) as backup_row_count
    from landing_rows
    group by {{ identity | join(', ') }}
),

{% if table.strategy == 'incremental' -%}
compared_states as (
    {#- What each non-checkpoint session is compared with: the session before it. -#}
    select
        following.backup_scope,
        following.session_seq,
        following.backup_checkpoint_seq,
        previous.backup_row_hash,
        previous.backup_row_check_hash,
        previous.backup_row_count
    from landing_states as previous
    inner join scheduled_sessions as following
        on following.backup_scope = previous.backup_scope
        and following.session_seq = previous.session_seq + 1
    where following.session_seq <> following.backup_checkpoint_seq
    {%- if store %}
    union all
    {# The batch's first session continues a checkpoint period: rebuild the last stored
       session's multiset from its checkpoint and the changes since (identities only). #}
    select
        following.backup_scope,
        following.session_seq,
        following.backup_checkpoint_seq,
        stored.backup_row_hash,
        stored.backup_row_check_hash,
        cast(sum(stored.backup_row_count) as {{ dbt.type_bigint() }}) as backup_row_count
    from {{ store }} as stored
    inner join scheduled_sessions as following
        on stored.backup_scope = following.backup_scope
        and stored.backup_checkpoint_seq = following.backup_checkpoint_seq
        and stored.session_seq < following.session_seq
    where following.is_first_of_batch
        and following.session_seq <> following.backup_checkpoint_seq
        and stored.backup_row_count <> 0
    group by
        following.backup_scope,
        following.session_seq,
        following.backup_checkpoint_seq,
        stored.backup_row_hash,
        stored.backup_row_check_hash
    having sum(stored.backup_row_count) > 0
    {%- endif %}
),
{%- else -%}
compared_states as (
    {#- What each non-checkpoint session is compared with: its checkpoint, landed in this
        batch or stored by an earlier one. -#}
    select
        following.backup_scope,
        following.session_seq,
        following.backup_checkpoint_seq,
        checkpoint.backup_row_hash,
        checkpoint.backup_row_check_hash,
        checkpoint.backup_row_count
    from landing_states as checkpoint
    inner join scheduled_sessions as following
        on following.backup_scope = checkpoint.backup_scope
        and following.backup_checkpoint_seq = checkpoint.session_seq
    where checkpoint.session_seq = checkpoint.backup_checkpoint_seq
        and following.session_seq <> following.backup_checkpoint_seq
    {%- if store %}
    union all
    select
        following.backup_scope,
        following.session_seq,
        following.backup_checkpoint_seq,
        checkpoint.backup_row_hash,
        checkpoint.backup_row_check_hash,
        checkpoint.backup_row_count
    from {{ store }} as checkpoint
    inner join scheduled_sessions as following
        on checkpoint.backup_scope = following.backup_scope
        and checkpoint.session_seq = following.backup_checkpoint_seq
        and checkpoint.backup_checkpoint_seq = following.backup_checkpoint_seq
    where checkpoint.backup_row_count > 0
        and following.session_seq <> following.backup_checkpoint_seq
    {%- endif %}
),
{%- endif %}

signed_states as (
    select
        {{ identity | join(',\n        ') }},
        backup_row_count
    from landing_states
    where session_seq <> backup_checkpoint_seq
    union all
    select
        {{ identity | join(',\n        ') }},
        -backup_row_count as backup_row_count
    from compared_states
),

net_changes as (
    select
        {{ identity | join(',\n        ') }},
        cast(sum(backup_row_count) as {{ dbt.type_bigint() }}) as backup_row_count
    from signed_states
    group by {{ identity | join(', ') }}
    having sum(backup_row_count) <> 0
),

checkpoint_rows as (
    {#- Checkpoints: the whole multiset, one row per distinct content. -#}
    select
        scheduled_sessions.backup_scope,
        scheduled_sessions.session_seq,
        scheduled_sessions.backup_checkpoint_seq,
        {{ session_backup.row_hash(columns, 'landing') }} as backup_row_hash,
        {{ session_backup.content_check_hash(columns, 'landing') }} as backup_row_check_hash,
        {%- for column in columns %}
        landing.{{ session_backup.quote_name(column.name) }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ session_backup.landing_source(table_name) }} as landing
    inner join scheduled_sessions
        on landing.session_id = scheduled_sessions.session_id
    where scheduled_sessions.session_seq = scheduled_sessions.backup_checkpoint_seq
),

added_rows as (
    {#- Rows added since the compared state, with their values: matched on the cheap row_hash
        first, then the check hash is computed only for those few candidates. -#}
    select
        {%- for name in identity %}
        net_changes.{{ name }},
        {%- endfor %}
        net_changes.backup_row_count,
        {%- for column in columns %}
        landing.{{ session_backup.quote_name(column.name) }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ session_backup.landing_source(table_name) }} as landing
    inner join scheduled_sessions
        on landing.session_id = scheduled_sessions.session_id
    inner join net_changes
        on net_changes.backup_scope = scheduled_sessions.backup_scope
        and net_changes.session_seq = scheduled_sessions.session_seq
        and net_changes.backup_row_hash = {{ session_backup.row_hash(columns, 'landing') }}
    where net_changes.backup_row_count > 0
        and scheduled_sessions.session_seq <> scheduled_sessions.backup_checkpoint_seq
        and {{ session_backup.hashes_equal_after_join('net_changes.backup_row_check_hash', session_backup.content_check_hash(columns, 'landing')) }}
),

stored_rows as (
    select
        {{ identity | join(',\n        ') }},
        cast(count(*) as {{ dbt.type_bigint() }}) as backup_row_count,
        {%- for column in columns %}
        any_value({{ session_backup.quote_name(column.name) }}) as {{ session_backup.quote_name(column.name) }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from checkpoint_rows
    group by {{ identity | join(', ') }}
    union all
    {# One row per added identity (duplicates in landing are one identity with a count). #}
    select
        {{ identity | join(',\n        ') }},
        any_value(backup_row_count) as backup_row_count,
        {%- for column in columns %}
        any_value({{ session_backup.quote_name(column.name) }}) as {{ session_backup.quote_name(column.name) }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from added_rows
    group by {{ identity | join(', ') }}
    union all
    {# Removed rows: the identity and how many copies left; their values are in the checkpoint. #}
    select
        {{ identity | join(',\n        ') }},
        backup_row_count,
        {%- for column in columns %}
        cast(null as {{ column.data_type }}) as {{ session_backup.quote_name(column.name) }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from net_changes
    where backup_row_count < 0
    union all
    {# One marker per session. #}
    select
        backup_scope,
        session_seq,
        backup_checkpoint_seq,
        null as backup_row_hash,
        null as backup_row_check_hash,
        cast(0 as {{ dbt.type_bigint() }}) as backup_row_count,
        {%- for column in columns %}
        cast(null as {{ column.data_type }}) as {{ session_backup.quote_name(column.name) }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from scheduled_sessions
)

select * from stored_rows
    {%- endif -%}
{% endmacro %}
