{% macro names_where(conditions) %}
    {#- A list of the names whose condition holds: `conditions` is a list of (name, boolean SQL). -#}
    {{ return(adapter.dispatch('names_where', 'session_backup')(conditions)) }}
{% endmacro %}

{% macro default__names_where(conditions) %}
    {{ exceptions.raise_compiler_error("names_where is not implemented for adapter '" ~ target.type ~ "'") }}
{% endmacro %}

{% macro duckdb__names_where(conditions) %}
    {%- if conditions | length == 0 -%}
        cast([] as varchar[])
    {%- else -%}
    list_filter([
        {%- for condition in conditions -%}
        case when {{ condition[1] }} then {{ session_backup.sql_string(condition[0]) }} end{% if not loop.last %}, {% endif %}
        {%- endfor -%}
    ], lambda name: name is not null)
    {%- endif -%}
{% endmacro %}

{% macro bigquery__names_where(conditions) %}
    {%- if conditions | length == 0 -%}
        cast([] as array<string>)
    {%- else -%}
    array(select name from unnest([
        {%- for condition in conditions -%}
        if({{ condition[1] }}, {{ session_backup.sql_string(condition[0]) }}, null){% if not loop.last %}, {% endif %}
        {%- endfor -%}
    ]) as name with offset as position where name is not null order by position)
    {%- endif -%}
{% endmacro %}
