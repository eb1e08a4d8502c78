{% macro run_atomically(statements) %}
    {#- Runs statements so that either all of them take effect or none does. -#}
    {{ return(adapter.dispatch('run_atomically', 'session_backup')(statements)) }}
{% endmacro %}


{% macro default__run_atomically(statements) %}
    {#- One call for all statements (DuckDB, like most engines' drivers, runs a script of
        several), inside the transaction dbt opened for the node; one commit ends it. A run's
        commit is 20-30 statements, and dbt's fixed cost per statement call is more than most
        of them take. -#}
    {%- call statement('main') -%}
        {%- for statement_sql in statements %}
        {{ statement_sql }}
        ;
        {%- endfor %}
    {%- endcall -%}
    {% do adapter.commit() %}
{% endmacro %}


{% macro bigquery__run_atomically(statements) %}
    {#- BigQuery has no session transactions through dbt; a multi-statement transaction in one
        script job commits all DML together or rolls it back. -#}
    {%- call statement('main') -%}
        {{ session_backup.bigquery_transaction_script(statements) }}
    {%- endcall -%}
{% endmacro %}


{% macro bigquery_transaction_script(statements) %}
    {#- One script job: if any statement fails, BigQuery rolls the transaction back and the job
        fails (no exception handler on purpose: a handler would have to roll back itself). -#}
        begin transaction;
        {% for statement_sql in statements -%}
        {{ statement_sql }};
        {% endfor -%}
        commit transaction;
{%- endmacro %}
