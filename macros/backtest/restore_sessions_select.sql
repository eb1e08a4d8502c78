{% macro restore_sessions_select(table, columns_with_session_id, requested_sql, fail_sql=none, prune=none) %}
    {#- A table exactly as landed for every session of a set, in one set-based query over Head,
        History and cold History: each version joins the requested sessions of its scope whose
        position lies in its validity interval. `requested_sql` selects (session_id, scope,
        session_seq) of the backed-up sessions wanted; `fail_sql`, a union branch that raises
        for a requested session without a backup of this table (yields no row otherwise).
        Output: the landing columns in landing order, session_id set to each session.
        `prune` (BigQuery's restore_<t>_sessions_pruned): {'scopes': expr, 'closed_since': expr},
        constant filters so that only those scopes' clustered blocks and the History partitions
        closed since are read; `requested_sql` must then keep only sessions they cover. -#}
    {%- set head = session_backup.existing_backup_relation('head_' ~ table.name) -%}
    {%- set value_columns = columns_with_session_id | rejectattr('name', 'equalto', 'session_id') | list -%}
    {%- set projection -%}
        requested.session_id as backup_requested_session_id
        {%- for column in value_columns %}, versions.{{ session_backup.quote_name(column.name) }}{% endfor -%}
        {%- if table.is_keyless %}, versions.backup_row_count{% endif -%}
    {%- endset -%}
with

requested as (
    {{ requested_sql }}
),

valid_versions as (
    select {{ projection }}
    from {{ head }} as versions
    inner join requested
        on versions.backup_scope = requested.scope
        and versions.backup_valid_from_seq <= requested.session_seq
    {%- if prune %}
    where {{ session_backup.list_contains(prune.scopes, 'versions.backup_scope') }}
    {%- endif %}
    {%- for history in session_backup.history_sources(table) %}
    union all
    select {{ projection }}
    from {{ history }} as versions
    inner join requested
        on versions.backup_scope = requested.scope
        and versions.backup_valid_from_seq <= requested.session_seq
        and versions.backup_valid_to_seq > requested.session_seq
    {%- if prune %}
    where {{ session_backup.list_contains(prune.scopes, 'versions.backup_scope') }}
        and versions.backup_closed_date >= {{ prune.closed_since }}
    {%- endif %}
    {%- endfor %}
),

restored_rows as (
    select
        {%- for column in columns_with_session_id %}
        {%- if column.name | lower == 'session_id' %}
        cast(versions.backup_requested_session_id as {{ column.data_type }}) as {{ session_backup.quote_name(column.name) }}
        {%- else %}
        versions.{{ session_backup.quote_name(column.name) }}
        {%- endif %}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from valid_versions as versions
    {%- if table.is_keyless %}
    {{ session_backup.repeat_rows('versions.backup_row_count') }}
    {%- endif %}
)

select * from restored_rows
{%- if fail_sql %}
union all
{{ fail_sql }}
{%- endif %}
{% endmacro %}
