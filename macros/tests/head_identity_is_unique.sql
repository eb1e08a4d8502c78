{% test head_identity_is_unique(model, table_name) %}
    {% if not execute %}
    select 1 as placeholder where 1 = 0
    {%- else %}
    {#- One current version per (scope, key) in Head; keyless: per content hash pair. -#}
    {%- set table = session_backup.backup_table_config(table_name) -%}
    {%- set identity = session_backup.head_identity(table, session_backup.landing_columns(table_name)) -%}
    select
        backup_scope,
        {{ identity | join(', ') }},
        count(*) as versions
    from {{ model }}
    group by backup_scope, {{ identity | join(', ') }}
    having count(*) > 1
        {%- for name in identity %} or {{ name }} is null{% endfor %}
    {%- endif %}
{% endtest %}
