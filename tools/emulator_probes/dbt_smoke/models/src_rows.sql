-- Rows of "the current session": run 1 = the seed; run 2 = row 1 changed, row 3 deleted, row 4 new.
{{ config(materialized='view') }}
{% if var('run') | int == 1 %}
select session_id, row_key, closed_date, amount, false as is_deleted from {{ ref('landing') }}
{% else %}
select 's3' as session_id, 1 as row_key, date '2024-01-01' as closed_date, cast(11.5 as numeric) as amount, false as is_deleted
union all select 's3', 2, date '2024-01-02', cast(20.25 as numeric), false
union all select 's3', 3, date '2024-01-02', cast(30 as numeric), true
union all select 's3', 4, date '2024-01-03', cast(40 as numeric), false
{% endif %}
