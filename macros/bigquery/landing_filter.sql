{% macro landing_batch_filter(table_name, landing_alias, with_rechecks=false) %}
    {#- A WHERE clause that keeps only the landing rows of the sessions this model reads, as a
        list of literals, or '' (no clause). The models join landing with those sessions
        anyway; on BigQuery a join does not prune, a constant IN list does: with landing tables
        clustered (or partitioned) by session_id, a run reads the batch's blocks instead of all
        of landing. The list is the table's pending sessions (the same SQL as the model's
        join) and, `with_rechecks`, a superset of the recently backed-up sessions the checksums
        model re-checks (those of the scopes the run backs up), so the model's result never
        changes. -#}
    {{ return(adapter.dispatch('landing_batch_filter', 'session_backup')(table_name, landing_alias, with_rechecks)) }}
{% endmacro %}


{% macro default__landing_batch_filter(table_name, landing_alias, with_rechecks) %}
    {#- DuckDB reads its own file, with zonemaps: the join is enough. -#}
    {{ return('') }}
{% endmacro %}


{% macro bigquery__landing_batch_filter(table_name, landing_alias, with_rechecks) %}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set query -%}
        select session_id from ({{ session_backup.pending_sessions(table_name) }}) as pending
        {%- if with_rechecks %}
        union distinct
        select claimed.session_id
        from {{ ref('backup_sessions') }} as claimed
        inner join (
            select sessions.scope, max(sessions.session_seq) as applied_seq
            from {{ ref('backup_manifest') }} as manifest
            inner join {{ ref('backup_sessions') }} as sessions
                on manifest.session_id = sessions.session_id
            where manifest.table_name = {{ session_backup.sql_string(table_name) }}
            group by sessions.scope
        ) as progress
            on progress.scope = claimed.scope
        where claimed.session_seq > progress.applied_seq - {{ session_backup.setting('recheck_recent_sessions') | int }}
            and claimed.session_seq <= progress.applied_seq
            and claimed.scope in (select backup_scope from ({{ session_backup.pending_sessions(table_name) }}) as pending)
        {%- endif %}
        order by 1
    {%- endset -%}
    {%- set session_ids = run_query(query).columns[0].values() -%}
    {%- if session_ids | length == 0 -%}
        {{ return('where false') }}
    {%- elif session_ids | length > 10000 -%}
        {#- A catch-up of more sessions than one statement should list: no pruning this time. -#}
        {{ return('') }}
    {%- endif -%}
    {%- set literals = [] -%}
    {%- for session_id in session_ids -%}{%- do literals.append(session_backup.bigquery_string_literal(session_id)) -%}{%- endfor -%}
    {{ return('where ' ~ landing_alias ~ '.session_id in (' ~ literals | join(', ') ~ ')') }}
{% endmacro %}


{% macro bigquery_string_literal(value) %}
    {#- A GoogleSQL string literal for any text (landing data included): GoogleSQL escapes with
        backslashes; a doubled quote is not an escape there. -#}
    {%- set text = value | string -%}
    {%- set text = text | replace("\\", "\\\\") | replace("'", "\\'") | replace("\n", "\\n") | replace("\r", "\\r") -%}
    {{ return("'" ~ text ~ "'") }}
{% endmacro %}
