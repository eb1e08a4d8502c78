{% macro history_model(table_name) %}
    {#- The versions this run closes, in History's layout. backup_commit appends them in the
        run's one transaction; the history_<t> node only keeps the table's shape (backup_table). -#}
    {%- if not execute -%}
        select 1 as placeholder
    {%- else -%}
    {%- set table = session_backup.backup_table_config(table_name) -%}
    {%- set columns = session_backup.landing_columns(table_name) -%}
    select {{ session_backup.history_column_names(table, columns) | join(', ') }}
    from {{ session_backup.backup_ref('changes', table_name) }}
    where change_kind = 'closed'
    {%- endif -%}
{% endmacro %}


{% macro history_column_names(table, columns) %}
    {#- History's columns, quoted: the scope, the landing columns, the version's validity. -#}
    {%- set names = ['backup_scope'] -%}
    {%- for column in columns -%}{%- do names.append(session_backup.quote_name(column.name)) -%}{%- endfor -%}
    {%- if table.is_keyless -%}{%- do names.append('backup_row_count') -%}{%- endif -%}
    {%- do names.extend(['backup_valid_from_seq', 'backup_valid_from_session_id', 'backup_valid_to_seq',
        'backup_valid_to_session_id', 'backup_valid_to_at', 'backup_closed_date']) -%}
    {{ return(names) }}
{% endmacro %}
