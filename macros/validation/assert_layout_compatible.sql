{% macro assert_layout_compatible(table_name) %}
    {#- Landing may add columns mid-stream (older sessions keep restoring without them), but a
        column the backup already stores must stay, with its type: otherwise older sessions
        could not restore as they landed. Refused before anything is written, naming the column. -#}
    {%- set stored = session_backup.stored_columns(table_name) -%}
    {%- if stored is none -%}{{ return('') }}{%- endif -%}
    {%- set landing = {} -%}
    {%- for column in session_backup.landing_columns(table_name, include_session_id=true) -%}
        {%- do landing.update({column.name | lower: column}) -%}
    {%- endfor -%}
    {%- for column in stored -%}
        {%- set now = landing.get(column.name | lower) -%}
        {%- if now is none -%}
            {{ exceptions.raise_compiler_error("session_backup refused: landing table '" ~ table_name
                ~ "' no longer has column \"" ~ column.name ~ "\" (" ~ column.data_type
                ~ "), which backed-up sessions hold. The backup never drops a stored column: land it again"
                ~ " (NULL for new sessions is fine), then run the backup again. Nothing was written.") }}
        {%- elif now.data_type | lower != column.data_type | lower -%}
            {{ exceptions.raise_compiler_error("session_backup refused: landing table '" ~ table_name
                ~ "' column \"" ~ column.name ~ "\" changed type from " ~ column.data_type ~ " to "
                ~ now.data_type ~ ". Backed-up sessions restore with the stored type; land the column with"
                ~ " its old type (or as a new column), then run the backup again. Nothing was written.") }}
        {%- endif -%}
    {%- endfor -%}
    {{ return('') }}
{% endmacro %}
