{% macro pack_values(fields) %}
    {#- One struct of named values: `fields` is a list of (name, SQL expression). Diff results
        keep landing names inside structs, so they never collide with the diff's own columns. -#}
    {{ return(adapter.dispatch('pack_values', 'session_backup')(fields)) }}
{% endmacro %}

{% macro default__pack_values(fields) %}
    {{ exceptions.raise_compiler_error("pack_values is not implemented for adapter '" ~ target.type ~ "'") }}
{% endmacro %}

{% macro duckdb__pack_values(fields) %}
    {#- A struct literal: field names are string literals, so any column name fits. -#}
    {
    {%- for field in fields -%}
        {{ session_backup.sql_string(field[0]) }}: {{ field[1] }}{% if not loop.last %}, {% endif %}
    {%- endfor -%}
    }
{% endmacro %}

{% macro bigquery__pack_values(fields) %}
    struct(
    {%- for field in fields -%}
        {{ field[1] }} as {{ session_backup.quote_name(field[0]) }}{% if not loop.last %}, {% endif %}
    {%- endfor -%}
    )
{% endmacro %}
