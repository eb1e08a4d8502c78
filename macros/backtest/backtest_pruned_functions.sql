{% macro backtest_pruned_functions(table, columns, listed_sql, listed_missing_sql) %}
    {#- Extra entry points an engine needs beside the back-testing functions; called by
        backtest_functions for every History table. -#}
    {{ return(adapter.dispatch('backtest_pruned_functions', 'session_backup')(table, columns, listed_sql, listed_missing_sql)) }}
{% endmacro %}


{% macro default__backtest_pruned_functions(table, columns, listed_sql, listed_missing_sql) %}
    {#- DuckDB reads its own files: no bytes-scanned bill, nothing to prune. -#}
    {{ return([]) }}
{% endmacro %}


{% macro bigquery__backtest_pruned_functions(table, columns, listed_sql, listed_missing_sql) %}
    {#- BigQuery prunes partitions and clustered blocks only on constant filters, and the
        sessions' scopes and positions come from a subquery: restore_<t>_sessions and diff_<t>
        read the referenced columns of all of Head and History. These variants take the scopes
        and a date on or before the earliest session's start as parameters (constants in the
        caller's query), so only those scopes' blocks and the History partitions closed since
        are read; the CLI looks the values up and calls them. Values that do not cover the
        sessions raise, so a caller never gets a silently partial answer.
            select * from `proj.backup.restore_orders_sessions_pruned`(['VN-1', 'VN-2'], ['VN'], date '2024-01-01')
            select * from `proj.backup.diff_orders_pruned`('VN-1', 'VN-2', 'VN', date '2024-01-01') -#}
    {%- set covered -%}
        select listed.*
        from ({{ listed_sql }}) as listed
        inner join {{ session_backup.existing_backup_relation('backup_sessions') }} as sessions
            on sessions.session_id = listed.session_id
        where listed.scope in unnest(requested_scopes)
            and cast(sessions.started_at as date) >= closed_since
    {%- endset -%}
    {%- set statements = [] -%}
    {%- do statements.append(session_backup.create_backtest_function(
        'restore_' ~ table.name ~ '_sessions_pruned',
        [('requested_session_ids', 'ARRAY<STRING>'), ('requested_scopes', 'ARRAY<STRING>'), ('closed_since', 'DATE')],
        session_backup.restore_sessions_select(table, columns, covered, listed_missing_sql,
            prune={'scopes': 'requested_scopes', 'closed_since': 'closed_since'}))) -%}
    {%- do statements.append(session_backup.create_backtest_function(
        'diff_' ~ table.name ~ '_pruned',
        [('requested_from_session_id', 'STRING'), ('requested_to_session_id', 'STRING'),
         ('requested_scope', 'STRING'), ('closed_since', 'DATE')],
        session_backup.diff_select(table, columns, 'requested_from_session_id', 'requested_to_session_id',
            prune={'scope': 'requested_scope', 'closed_since': 'closed_since'}))) -%}
    {{ return(statements) }}
{% endmacro %}
