{% macro create_backtest_function(name, parameters, body_sql) %}
    {#- A table function with several typed parameters: `parameters` is a list of
        (name, BigQuery type) pairs. Returns the statement; the caller runs it. -#}
    {{ return(adapter.dispatch('create_backtest_function', 'session_backup')(name, parameters, body_sql)) }}
{% endmacro %}

{% macro default__create_backtest_function(name, parameters, body_sql) %}
    {{ exceptions.raise_compiler_error("create_backtest_function is not implemented for adapter '" ~ target.type ~ "'") }}
{% endmacro %}

{% macro duckdb__create_backtest_function(name, parameters, body_sql) %}
    {#- DuckDB table macros take untyped parameters; the body casts where it matters. -#}
    create or replace macro {{ session_backup.quote_name(target.database) }}.{{ session_backup.quote_name(target.schema) }}.{{ name }}(
        {%- for parameter in parameters %}{{ parameter[0] }}{% if not loop.last %}, {% endif %}{% endfor -%}
    ) as table
    {{ body_sql }}
{% endmacro %}

{% macro bigquery__create_backtest_function(name, parameters, body_sql) %}
    create or replace table function `{{ target.database }}`.`{{ target.schema }}`.`{{ name }}`(
        {%- for parameter in parameters %}{{ parameter[0] }} {{ parameter[1] }}{% if not loop.last %}, {% endif %}{% endfor -%}
    ) as (
    {{ body_sql }}
    )
{% endmacro %}
