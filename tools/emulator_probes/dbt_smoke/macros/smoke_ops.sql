{#- dbt run-operation smoke_create_table_function: a table function over a model, created from dbt -#}
{% macro smoke_create_table_function() %}
  {% set sql %}
    create or replace table function {{ target.dataset }}.rows_at(p_session_id STRING) as (
      select * from {{ ref('smoke_table') }} where session_id = p_session_id
    )
  {% endset %}
  {% do run_query(sql) %}
{% endmacro %}
