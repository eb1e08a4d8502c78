{% test head_identity_is_unique(model, table_name) %}
    {% if not execute %}
    select 1 as placeholder where 1 = 0
    {%- else %}
    {#- One current version per (scope, key) in Head; keyless: per content hash pair. -#}
    {%- set table = session_backup.backup_table_config(table_name) -%}
    {%- set identity = session_backup.head_identity(table, session_backup.restore_columns(table_name, include_session_id=false)) -%}
    {#- Attached to backup_commit (it runs after the commit); it checks the table's Head. -#}
    {%- set head = session_backup.existing_backup_relation('head_' ~ table_name) -%}
    select
        backup_scope,
        {{ identity | join(', ') }},
        count(*) as versions
    from {{ head }}
    group by backup_scope, {{ identity | join(', ') }}
    having count(*) > 1
        {%- for name in identity %} or {{ name }} is null{% endfor %}
    {%- endif %}
{% endtest %}
