{% macro assert_valid_landing_sessions(claimed_relation) %}
    {#- The sessions table is the backup's input contract. Anything that would make a session
        land in the wrong place is refused before a single row is claimed. -#}
    {%- set sessions = source('landing', 'sessions') -%}
    {%- set succeeded = session_backup.sql_string(var('succeeded_status')) -%}
    {%- set checks = [] -%}
    {%- do checks.append(["session_id is NULL, or scope or started_at is NULL for a succeeded session",
        "select coalesce(session_id, '(null)') as session_id, coalesce(scope, '(null)') as scope from " ~ sessions
        ~ " where session_id is null or (status = " ~ succeeded ~ " and (scope is null or started_at is null))"]) -%}
    {%- do checks.append(["session_id appears more than once in the sessions table",
        "select session_id, min(scope) as scope from " ~ sessions ~ " group by session_id having count(*) > 1"]) -%}
    {%- if claimed_relation is not none -%}
        {%- do checks.append(["session was already backed up with a different scope or started_at",
            "select landing.session_id, landing.scope from " ~ sessions ~ " as landing inner join " ~ claimed_relation
            ~ " as claimed on landing.session_id = claimed.session_id"
            ~ " where landing.scope <> claimed.scope or landing.started_at <> claimed.started_at"]) -%}
        {%- do checks.append(["late session: it started before a session of the same scope that is already backed up"
            ~ " (the backup refuses it rather than rewrite history; land it under a new, later session)",
            "select landing.session_id, landing.scope from " ~ sessions ~ " as landing"
            ~ " inner join (select scope, max(started_at) as last_started_at from "
            ~ claimed_relation ~ " group by scope) as latest on landing.scope = latest.scope"
            ~ " where landing.status = " ~ succeeded
            ~ " and landing.started_at < latest.last_started_at"
            ~ " and not exists (select 1 from " ~ claimed_relation ~ " as claimed where claimed.session_id = landing.session_id)"]) -%}
    {%- endif -%}
    {%- for check in checks -%}
        {%- set found = run_query(check[1] ~ " order by 1 limit 5") -%}
        {%- if found.rows | length > 0 -%}
            {%- set examples = [] -%}
            {%- for row in found.rows -%}{%- do examples.append("'" ~ row[0] ~ "' (scope '" ~ row[1] ~ "')") -%}{%- endfor -%}
            {{ exceptions.raise_compiler_error("Landing sessions table " ~ sessions ~ ": " ~ check[0] ~ ": "
                ~ examples | join(', ') ~ ". Nothing was backed up.") }}
        {%- endif -%}
    {%- endfor -%}
{% endmacro %}
