{% macro backup_cluster_by(key_columns) %}
    {#- Head and History are read per scope and looked up per key. -#}
    {{ return(adapter.dispatch('backup_cluster_by', 'session_backup')(key_columns)) }}
{% endmacro %}

{% macro default__backup_cluster_by(key_columns) %}
    {{ return(none) }}
{% endmacro %}

{% macro bigquery__backup_cluster_by(key_columns) %}
    {#- BigQuery clusters on at most four columns: the scope first (every read is per scope),
        then the key (Head lookups and change detection join on it). -#}
    {{ return((['backup_scope'] + (key_columns | list))[:4]) }}
{% endmacro %}
