{{ config(materialized='incremental',
          incremental_strategy='merge',
          unique_key='row_key',
          partition_by={'field': 'closed_date', 'data_type': 'date'},
          cluster_by=['session_id'],
          on_schema_change='append_new_columns',
          full_refresh=false) }}
select session_id, row_key, closed_date, amount
{% if var('run') | int >= 2 %}, 'added in run 2' as note{% endif %}
from {{ ref('src_rows') }}
where not is_deleted
{% if is_incremental() %}
  and row_key >= (select coalesce(min(row_key), 0) from {{ this }})
{% endif %}
