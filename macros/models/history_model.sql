{% macro history_model(table_name) %}
    {#- Closed versions, appended once and never updated. A re-run after an interruption skips
        what an earlier attempt of the same batch already appended (its closes are identical,
        since they depend only on the Head before the batch and the batch's sessions). -#}
    {%- if not execute -%}
        select 1 as placeholder
    {%- else -%}
    {%- set table = session_backup.backup_table_config(table_name) -%}
    {%- set columns = session_backup.landing_columns(table_name) -%}
    {%- set changes = ref('changes_' ~ table_name) -%}
    {%- if is_incremental() -%}
        {%- set earliest = run_query("select min(backup_closed_date) from " ~ changes ~ " where change_kind = 'closed'") -%}
        {%- set earliest_close = earliest.columns[0].values()[0] if earliest.rows | length > 0 else none -%}
    {%- endif -%}
with

closed_versions as (
    select * from {{ changes }}
    where change_kind = 'closed'
),

{% if is_incremental() and earliest_close is not none -%}
already_written as (
    {#- The date filter prunes BigQuery partitions: only this batch's closing days are read. -#}
    select
        backup_scope,
        max(backup_valid_to_seq) as written_to_seq
    from {{ this }}
    where backup_closed_date >= {{ session_backup.date_literal(earliest_close) }}
    group by backup_scope
),
{%- else -%}
already_written as (
    select
        backup_scope,
        backup_valid_to_seq as written_to_seq
    from closed_versions
    where 1 = 0
),
{%- endif %}

new_versions as (
    select closed_versions.*
    from closed_versions
    left join already_written
        on closed_versions.backup_scope = already_written.backup_scope
    where closed_versions.backup_valid_to_seq > coalesce(already_written.written_to_seq, 0)
)

select
    backup_scope,
    {%- for column in columns %}
    {{ adapter.quote(column.name) }},
    {%- endfor %}
    {%- if table.is_keyless %}
    backup_row_count,
    {%- endif %}
    backup_valid_from_seq,
    backup_valid_from_session_id,
    backup_valid_to_seq,
    backup_valid_to_session_id,
    backup_valid_to_at,
    backup_closed_date
from new_versions
    {%- endif -%}
{% endmacro %}


{% macro date_literal(value) %}
    {{ return("cast('" ~ (value | string)[:10] ~ "' as date)") }}
{% endmacro %}
