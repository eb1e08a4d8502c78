{% macro cluster_columns(columns) %}
    {#- Clustering for the backup's small bookkeeping tables (claims, manifest), read by session
        id: a constant `session_id = ...` (restore, verify, status of one session) then reads a
        few blocks instead of the whole table once it has grown past a block. -#}
    {{ return(adapter.dispatch('cluster_columns', 'session_backup')(columns)) }}
{% endmacro %}

{% macro default__cluster_columns(columns) %}
    {{ return(none) }}
{% endmacro %}

{% macro bigquery__cluster_columns(columns) %}
    {{ return((columns | list)[:4]) }}
{% endmacro %}
