{{ config(materialized='table',
          partition_by={'field': 'closed_date', 'data_type': 'date'},
          cluster_by=['session_id']) }}
select * from {{ ref('src_rows') }}
