{% macro assert_valid_landing_sessions(claimed_relation) %}
    {#- The sessions table is the backup's input contract. Anything that would make a session
        land in the wrong place is refused before a single row is claimed. -#}
    {%- set sessions = session_backup.landing_source('sessions') -%}
    {%- set succeeded = session_backup.sql_string(session_backup.setting('succeeded_status')) -%}
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
        {%- set manifest = session_backup.existing_backup_relation('backup_manifest') -%}
        {%- set declared = [] -%}
        {%- for table in session_backup.backup_tables() -%}
            {%- do declared.append("select " ~ session_backup.sql_string(table.name) ~ " as table_name") -%}
        {%- endfor -%}
        {%- if manifest is not none and declared -%}
            {%- do checks.append(["session was claimed for backup but is no longer a succeeded session in landing"
                ~ " before every table was backed up (restore its landing rows, or they would be stored as empty)",
                session_backup._vanished_sessions_sql(sessions, claimed_relation, manifest, declared, succeeded)]) -%}
        {%- endif -%}
    {%- endif -%}
    {%- for check in checks -%}
        {%- set found = run_query(check[1] ~ " order by 1 limit 5") -%}
        {%- if found.rows | length > 0 -%}
            {%- set examples = [] -%}
            {%- for row in found.rows -%}{%- do examples.append("'" ~ row[0] ~ "' (scope '" ~ row[1] ~ "')") -%}{%- endfor -%}
            {{ exceptions.raise_compiler_error("session_backup refused: Landing sessions table " ~ sessions ~ ": " ~ check[0] ~ ": "
                ~ examples | join(', ') ~ ". Nothing was backed up.") }}
        {%- endif -%}
    {%- endfor -%}
{% endmacro %}


{% macro _vanished_sessions_sql(sessions, claimed, manifest, declared, succeeded) %}
    {#- Claimed sessions some declared table still has to back up, whose landing is gone. -#}
    with
    declared_tables as ({{ declared | join(' union all ') }}),
    progress as (
        select claimed.scope, manifest.table_name, max(claimed.session_seq) as applied_seq
        from {{ manifest }} as manifest
        inner join {{ claimed }} as claimed on manifest.session_id = claimed.session_id
        group by claimed.scope, manifest.table_name
    ),
    scope_progress as (
        select scope, max(applied_seq) as any_applied_seq from progress group by scope
    ),
    scope_floor as (
        select
            scopes.scope,
            min(coalesce(progress.applied_seq, scope_progress.any_applied_seq, 0)) as floor_seq
        from (select distinct scope from {{ claimed }}) as scopes
        cross join declared_tables
        left join progress
            on progress.scope = scopes.scope and progress.table_name = declared_tables.table_name
        left join scope_progress
            on scope_progress.scope = scopes.scope
        group by scopes.scope
    )
    select claimed.session_id, claimed.scope
    from {{ claimed }} as claimed
    inner join scope_floor on scope_floor.scope = claimed.scope
    where claimed.session_seq > scope_floor.floor_seq
        and not exists (
            select 1 from {{ sessions }} as landing
            where landing.session_id = claimed.session_id and landing.status = {{ succeeded }}
        )
{% endmacro %}
