{% macro backtest_functions(table) %}
    {#- The back-testing and explaining entry points of one History table, as statements for
        create_backup_functions (on-run-end, and again whenever tiering re-creates the restore
        functions, so they read cold History too):
          restore_<t>_sessions(session_ids)            every listed session, landing layout
          restore_<t>_between(scope, since, before)    sessions of a scope started in [since, before)
          restore_<t>_as_of(scope, as_of)              the last backed-up session started at or before as_of
          diff_<t>(from_session_id, to_session_id)     what changed between two sessions of a scope
          versions_<t>()                               every stored version with its validity
        Other strategies get none: they have no validity intervals to join on. -#}
    {%- if table.strategy != 'history'
        or session_backup.existing_backup_relation('head_' ~ table.name) is none
        or session_backup.existing_backup_relation('history_' ~ table.name) is none -%}
        {{ return([]) }}
    {%- endif -%}
    {#- The stored layout (session_backup.restore_columns), never today's landing. -#}
    {%- set columns = session_backup.restore_columns(table.name) -%}
    {%- set backed_up = session_backup.backed_up_sessions(table) -%}
    {%- set statements = [] -%}

    {#- A list of sessions; one without a backup of this table raises. -#}
    {%- set listed -%}
        select backed_up.session_id, backed_up.scope, backed_up.session_seq
        from ({{ backed_up }}) as backed_up
        where {{ session_backup.list_contains('requested_session_ids', 'backed_up.session_id') }}
    {%- endset -%}
    {%- set listed_missing = session_backup.raise_for_missing(columns,
        "concat('session_backup: no backup of table " ~ table.name ~ " for session ', requested_id)",
        "requested_id not in (select session_id from requested)",
        session_backup.list_elements('requested_session_ids', 'requested_id')) -%}
    {%- do statements.append(session_backup.create_backtest_function(
        'restore_' ~ table.name ~ '_sessions', [('requested_session_ids', 'ARRAY<STRING>')],
        session_backup.restore_sessions_select(table, columns, listed, listed_missing))) -%}

    {#- The backed-up sessions of a scope that started in [since, before). -#}
    {%- set between -%}
        select backed_up.session_id, backed_up.scope, backed_up.session_seq
        from ({{ backed_up }}) as backed_up
        where backed_up.scope = requested_scope
            and backed_up.started_at >= requested_since
            and backed_up.started_at < requested_before
    {%- endset -%}
    {%- do statements.append(session_backup.create_backtest_function(
        'restore_' ~ table.name ~ '_between',
        [('requested_scope', 'STRING'), ('requested_since', 'TIMESTAMP'), ('requested_before', 'TIMESTAMP')],
        session_backup.restore_sessions_select(table, columns, between))) -%}

    {#- Point in time: the latest backed-up session of the scope started at or before as_of
        (the latest by position, so equal start times resolve as the backup ordered them). -#}
    {%- set as_of -%}
        select candidates.session_id, candidates.scope, candidates.session_seq
        from (
            select
                backed_up.session_id,
                backed_up.scope,
                backed_up.session_seq,
                row_number() over (order by backed_up.session_seq desc) as recency
            from ({{ backed_up }}) as backed_up
            where backed_up.scope = requested_scope
                and backed_up.started_at <= requested_as_of
        ) as candidates
        where candidates.recency = 1
    {%- endset -%}
    {%- set as_of_missing = session_backup.raise_for_missing(columns,
        "concat('session_backup: no backed-up session of table " ~ table.name ~ " in scope ', requested_scope, "
        ~ "' started at or before ', cast(requested_as_of as " ~ dbt.type_string() ~ "))",
        "not exists (select 1 from requested)") -%}
    {%- do statements.append(session_backup.create_backtest_function(
        'restore_' ~ table.name ~ '_as_of', [('requested_scope', 'STRING'), ('requested_as_of', 'TIMESTAMP')],
        session_backup.restore_sessions_select(table, columns, as_of, as_of_missing))) -%}

    {#- Engine-specific extras (BigQuery: the _pruned variants, see backtest_pruned_functions). -#}
    {%- do statements.extend(session_backup.backtest_pruned_functions(table, columns, listed, listed_missing)) -%}

    {%- do statements.append(session_backup.create_backtest_function(
        'diff_' ~ table.name, [('requested_from_session_id', 'STRING'), ('requested_to_session_id', 'STRING')],
        session_backup.diff_select(table, columns, 'requested_from_session_id', 'requested_to_session_id'))) -%}

    {#- A table function, not a view: DuckDB cannot bind a view over a catalog and a schema
        of the same name (the default backup.duckdb holds schema backup). -#}
    {%- do statements.append(session_backup.create_backtest_function(
        'versions_' ~ table.name, [], session_backup.versions_select(table, columns))) -%}
    {{ return(statements) }}
{% endmacro %}
