{% macro assert_valid_changes(table_name) %}
    {#- Post-hook of each changes model: a NULL or duplicate key stops the whole batch before any
        History or Head table is written, with one error naming the table, session and key. -#}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set table = session_backup.backup_table_config(table_name) -%}
    {%- set key_list = [] -%}
    {%- for key in table.key -%}{%- do key_list.append(session_backup.quote_name(key)) -%}{%- endfor -%}
    {%- set key_select = key_list | join(', ') if key_list else "'(whole row)'" -%}
    {%- set query -%}
        select
            backup_scope,
            backup_valid_from_session_id,
            has_null_key,
            {{ key_select }}
        from {{ this }}
        where change_kind = 'problem'
        order by backup_scope, backup_valid_from_seq
        limit 5
    {%- endset -%}
    {%- set problems = run_query(query) -%}
    {%- if problems.rows | length > 0 -%}
        {%- set lines = [] -%}
        {%- for row in problems.rows -%}
            {%- set values = [] -%}
            {%- for index in range(3, row | length) -%}
                {%- do values.append(table.key[index - 3] ~ '=' ~ row[index]) -%}
            {%- endfor -%}
            {%- do lines.append(("NULL key" if row[2] else "duplicate key") ~ " (" ~ values | join(', ')
                ~ ") in session '" ~ row[1] ~ "' (scope '" ~ row[0] ~ "')") -%}
        {%- endfor -%}
        {{ exceptions.raise_compiler_error("session_backup refused: Landing table '" ~ table_name ~ "' breaks its declared key "
            ~ table.key | join(', ') ~ ": " ~ lines | join('; ')
            ~ ". Nothing was backed up; fix the landing data or the key in its `meta.backup` declaration.") }}
    {%- endif -%}
    {{ return('') }}
{% endmacro %}
