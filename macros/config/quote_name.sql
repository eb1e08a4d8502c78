{% macro quote_name(name) %}
    {#- A quoted identifier for any name landing may use: case, spaces, dots, reserved words,
        non-ASCII and the quote character itself. (The adapters' own quote() does not escape
        an embedded quote, so a column named `quo"te` would break the SQL.) -#}
    {{ return(adapter.dispatch('quote_name', 'session_backup')(name)) }}
{% endmacro %}

{% macro default__quote_name(name) %}
    {#- Standard SQL (DuckDB): double quotes, an embedded one doubled. -#}
    {{ return('"' ~ (name | string | replace('"', '""')) ~ '"') }}
{% endmacro %}

{% macro bigquery__quote_name(name) %}
    {#- BigQuery: backticks, with backslash escapes inside. -#}
    {{ return('`' ~ (name | string | replace('\\', '\\\\') | replace('`', '\\`')) ~ '`') }}
{% endmacro %}
