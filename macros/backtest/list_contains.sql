{% macro list_contains(list_expression, value_expression) %}
    {#- True when a list/array parameter holds the value. -#}
    {{ return(adapter.dispatch('list_contains', 'session_backup')(list_expression, value_expression)) }}
{% endmacro %}

{% macro default__list_contains(list_expression, value_expression) %}
    {{ exceptions.raise_compiler_error("list_contains is not implemented for adapter '" ~ target.type ~ "'") }}
{% endmacro %}

{% macro duckdb__list_contains(list_expression, value_expression) %}
    {#- A VARCHAR[] parameter (a Python list binds as one). -#}
    list_contains({{ list_expression }}, {{ value_expression }})
{% endmacro %}

{% macro bigquery__list_contains(list_expression, value_expression) %}
    {#- An ARRAY<STRING> parameter. -#}
    {{ value_expression }} in unnest({{ list_expression }})
{% endmacro %}
