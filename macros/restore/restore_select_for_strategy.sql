{% macro restore_select_for_strategy(table, session_parameter) %}
    {#- The restore query of the classic strategies (full, incremental, differential, snapshot);
        empty while the table has nothing to restore from. -#}
    {{ return('') }}
{% endmacro %}
