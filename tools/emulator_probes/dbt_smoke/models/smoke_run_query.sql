-- depends_on: {{ ref('landing') }}
{% if execute %}
  {% set res = run_query("select count(*) as c, max(row_key) as m from " ~ ref('landing')) %}
  {% set c = res.columns[0].values()[0] %}
  {% set m = res.columns[1].values()[0] %}
{% else %}
  {% set c = 0 %}{% set m = 0 %}
{% endif %}
{{ config(materialized='table') }}
select {{ c }} as landing_rows, {{ m }} as max_key
