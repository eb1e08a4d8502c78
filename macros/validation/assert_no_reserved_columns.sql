{% macro assert_no_reserved_columns(table_name, columns) %}
    {#- Backup bookkeeping columns share the row with landing columns; a clash would corrupt both. -#}
    {%- set reserved = [
        'backup_scope', 'backup_row_hash', 'backup_row_check_hash', 'backup_row_count',
        'backup_valid_from_seq', 'backup_valid_from_session_id', 'backup_valid_to_seq',
        'backup_valid_to_session_id', 'backup_valid_to_at', 'backup_closed_date',
        'backup_checkpoint_seq', 'backup_change', 'session_seq',
    ] -%}
    {%- for column in columns if column.name | lower in reserved -%}
        {{ exceptions.raise_compiler_error("session_backup refused: Landing table '" ~ table_name ~ "' has a column named '" ~ column.name
            ~ "', which the backup reserves for its own bookkeeping; rename it in landing.") }}
    {%- endfor -%}
{% endmacro %}
