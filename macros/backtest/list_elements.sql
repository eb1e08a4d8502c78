{% macro list_elements(list_expression, element_name) %}
    {#- A FROM item with one row per element of a list/array parameter, the element in
        column `element_name`. -#}
    {{ return(adapter.dispatch('list_elements', 'session_backup')(list_expression, element_name)) }}
{% endmacro %}

{% macro default__list_elements(list_expression, element_name) %}
    {{ exceptions.raise_compiler_error("list_elements is not implemented for adapter '" ~ target.type ~ "'") }}
{% endmacro %}

{% macro duckdb__list_elements(list_expression, element_name) %}
    unnest({{ list_expression }}) as requested_elements({{ element_name }})
{% endmacro %}

{% macro bigquery__list_elements(list_expression, element_name) %}
    unnest({{ list_expression }}) as {{ element_name }}
{% endmacro %}
