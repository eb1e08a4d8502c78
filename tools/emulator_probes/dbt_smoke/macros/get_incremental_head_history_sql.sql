{#- A custom incremental strategy, named the dbt-core way: get_incremental_<name>_sql(arg_dict).
    Delete the keys present in the new batch, re-insert the live ones, in one BigQuery transaction. -#}
{% macro get_incremental_head_history_sql(arg_dict) %}
  {%- set target = arg_dict['target_relation'] -%}
  {%- set source = arg_dict['temp_relation'] -%}
  {%- set key = arg_dict['unique_key'] -%}
  {%- set cols = arg_dict['dest_columns'] | map(attribute='name') | join(', ') -%}
BEGIN TRANSACTION;
delete from {{ target }} where {{ key }} in (select {{ key }} from {{ source }});
insert into {{ target }} ({{ cols }}) select {{ cols }} from {{ source }} where not is_deleted;
COMMIT TRANSACTION;
{% endmacro %}
