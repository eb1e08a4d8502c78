{% macro versions_select(table, columns_with_session_id) %}
    {#- Every stored version of every row of a table (Head, History and cold History), with
        the sessions and times it was valid in: backup_scope, the landing columns (keyless:
        backup_row_count, how many times the row was there), backup_valid_from_seq / _session_id
        / _at (the first session it was valid in), backup_valid_to_seq / _session_id / _at (the
        first session it was no longer valid in; NULL while current), backup_last_session_id /
        _at (the last backed-up session it was valid in), backup_session_count and
        backup_is_current. The body of versions_<table>(), which `session-backup log` reads. -#}
    {%- set head = session_backup.existing_backup_relation('head_' ~ table.name) -%}
    {%- set sessions = session_backup.existing_backup_relation('backup_sessions') -%}
    {%- set value_columns = columns_with_session_id | rejectattr('name', 'equalto', 'session_id') | list -%}
    {%- set projection -%}
        versions.backup_scope,
        {%- for column in value_columns %} versions.{{ session_backup.quote_name(column.name) }},{% endfor -%}
        {%- if table.is_keyless %} versions.backup_row_count,{% endif %}
        versions.backup_valid_from_seq,
        versions.backup_valid_from_session_id
    {%- endset -%}
with

backed_up as (
    {{ session_backup.backed_up_sessions(table) }}
),

latest_backed_up as (
    select
        scope,
        max(session_seq) as last_seq
    from backed_up
    group by scope
),

all_versions as (
    select
        {{ projection }},
        cast(null as {{ dbt.type_bigint() }}) as backup_valid_to_seq,
        cast(null as {{ dbt.type_string() }}) as backup_valid_to_session_id,
        cast(null as {{ dbt.type_timestamp() }}) as backup_valid_to_at
    from {{ head }} as versions
    {%- for history in session_backup.history_sources(table) %}
    union all
    select
        {{ projection }},
        cast(versions.backup_valid_to_seq as {{ dbt.type_bigint() }}),
        cast(versions.backup_valid_to_session_id as {{ dbt.type_string() }}),
        cast(versions.backup_valid_to_at as {{ dbt.type_timestamp() }})
    from {{ history }} as versions
    {%- endfor %}
),

described_versions as (
    select
        all_versions.*,
        opened.started_at as backup_valid_from_at,
        last_session.session_id as backup_last_session_id,
        last_session.started_at as backup_last_session_at,
        coalesce(all_versions.backup_valid_to_seq, latest_backed_up.last_seq + 1)
            - all_versions.backup_valid_from_seq as backup_session_count,
        all_versions.backup_valid_to_seq is null as backup_is_current
    from all_versions
    left join {{ sessions }} as opened
        on opened.session_id = all_versions.backup_valid_from_session_id
    left join latest_backed_up
        on latest_backed_up.scope = all_versions.backup_scope
    left join {{ sessions }} as last_session
        on last_session.scope = all_versions.backup_scope
        and last_session.session_seq = coalesce(all_versions.backup_valid_to_seq - 1, latest_backed_up.last_seq)
)

select
    backup_scope,
    {%- for column in value_columns %}
    {{ session_backup.quote_name(column.name) }},
    {%- endfor %}
    {%- if table.is_keyless %}
    backup_row_count,
    {%- endif %}
    backup_valid_from_seq,
    backup_valid_from_session_id,
    backup_valid_from_at,
    backup_valid_to_seq,
    backup_valid_to_session_id,
    backup_valid_to_at,
    backup_last_session_id,
    backup_last_session_at,
    backup_session_count,
    backup_is_current
from described_versions
{% endmacro %}
