{% macro strategy_cluster_by(strategy) %}
    {#- Stored tables of the classic strategies are read per scope and session. -#}
    {{ return(adapter.dispatch('strategy_cluster_by', 'session_backup')(strategy)) }}
{% endmacro %}

{% macro default__strategy_cluster_by(strategy) %}
    {#- DuckDB has no clustering; rows are appended in session order, which its zonemaps use. -#}
    {{ return(none) }}
{% endmacro %}

{% macro bigquery__strategy_cluster_by(strategy) %}
    {%- if strategy == 'full' -%}
        {{ return(['session_id']) }}
    {%- endif -%}
    {{ return(['backup_scope', 'backup_checkpoint_seq', 'session_seq']) }}
{% endmacro %}
