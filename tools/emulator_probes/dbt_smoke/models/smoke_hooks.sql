{{ config(materialized='table',
          pre_hook="create table if not exists {{ this.dataset }}.hook_log (model STRING, logged_at TIMESTAMP, phase STRING)",
          post_hook=["insert into {{ this.dataset }}.hook_log values ('{{ this.identifier }}', current_timestamp(), 'post')",
                     "alter table {{ this }} set options(description = 'set by post_hook')"]) }}
select count(*) as n from {{ ref('src_rows') }}
