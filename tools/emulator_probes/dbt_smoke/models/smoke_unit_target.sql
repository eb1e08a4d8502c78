{{ config(materialized='view') }}
select row_key, amount * 2 as doubled from {{ ref('src_rows') }}
