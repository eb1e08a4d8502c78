{% macro changes_model(table_name) %}
    {#- The heart of the backup: for every pending session of one table (all scopes, whole batch,
        set-based), compare each row with the version valid before it and emit only changes:
          closed   - a version that stopped being valid (goes to History),
          opened   - a version still valid after the batch that Head does not hold yet,
          problem  - rows that break the declaration (NULL or duplicate key); the model's
                     post-hook turns them into one clear error before anything is written.
        The comparison runs on narrow rows (scope, key, session, hash); column values are joined
        back only for the few versions that changed. Unchanged rows produce nothing, so what is
        written scales with churn, not with table size. -#}
    {%- if not execute -%}
        select 1 as placeholder
    {%- else -%}
    {%- set table = session_backup.backup_table_config(table_name) -%}
    {%- set columns = session_backup.landing_columns(table_name) -%}
    {%- do session_backup.assert_no_reserved_columns(table_name, columns) -%}
    {%- do session_backup.assert_layout_compatible(table_name) -%}
    {%- set column_names = columns | map(attribute='name') | map('lower') | list -%}
    {%- for key in table.key if key | lower not in column_names -%}
        {{ exceptions.raise_compiler_error("session_backup refused: Table '" ~ table_name ~ "': key column '" ~ key ~ "' is not a column of the landing table.") }}
    {%- endfor -%}
    {%- set head = session_backup.existing_backup_relation('head_' ~ table_name) -%}
    {%- set head_columns = adapter.get_columns_in_relation(head) | map(attribute='name') | map('lower') | list if head else [] -%}
    {#- Landing columns Head has (names compare case-insensitively, as the engines resolve them). -#}
    {%- set columns_in_head = [] -%}
    {%- for column in columns if column.name | lower in head_columns -%}
        {%- do columns_in_head.append(column) -%}
    {%- endfor -%}
    {%- set identity = session_backup.head_identity(table, columns) -%}
    {%- set identity_list = identity | join(', ') -%}
    {%- set is_steady = session_backup._batch_has_one_session_per_scope(table_name) -%}
    {#- Keyed tables take each checked session's landing count and checksum in this model's
        landing pass (read through session_checksums()); keyless ones in checksums_<t>. -#}
    {%- set fold_checksums = session_backup.folds_checksums(table) -%}
    {%- set reads_landing_once = session_backup.reads_landing_once() and not table.is_keyless -%}
    {%- set reads_head_once = head and session_backup.reads_head_once() -%}
    {#- Head columns besides scope and identity that this model reads: the landing columns Head
        has (hashed, and the values of Head versions that close). -#}
    {%- set head_value_columns = [] -%}
    {%- for column in columns_in_head if session_backup.quote_name(column.name) not in identity -%}
        {%- do head_value_columns.append(column) -%}
    {%- endfor -%}
    {%- set compared = 'backup_row_count' if table.is_keyless else 'backup_row_hash' -%}
    {#- Narrow state columns besides scope, session and identity. -#}
    {%- set state = ['backup_row_count'] if table.is_keyless else ['backup_row_hash'] -%}
    {%- set value_columns = [] -%}
    {%- for column in columns if table.is_keyless or column.name | lower not in (table.key | map('lower') | list) -%}
        {%- do value_columns.append(column) -%}
    {%- endfor -%}

with

pending_sessions as (
    {{ session_backup.pending_sessions(table_name) }}
),
{%- if fold_checksums %}

checked_sessions as (
    {#- The pending sessions and the backed-up ones whose landing is checked again. #}
    select session_id, backup_scope, session_seq, false as is_recheck from pending_sessions
    union all
    select session_id, backup_scope, session_seq, true as is_recheck
    from ({{ session_backup.recheck_sessions(table_name) }}) as rechecked
),
{%- endif %}

batch_bounds as (
    select
        backup_scope,
        min(session_seq) as first_seq,
        max(session_seq) as last_seq
    from pending_sessions
    group by backup_scope
),

{% if table.is_keyless -%}
landing_rows as (
    {#- A keyless row is its content: every column is read and hashed twice (128-bit identity). -#}
    select
        pending_sessions.backup_scope,
        pending_sessions.session_seq,
        {%- for column in columns %}
        landing.{{ session_backup.quote_name(column.name) }},
        {%- endfor %}
        {{ session_backup.row_hash(columns, 'landing') }} as backup_row_hash,
        {{ session_backup.row_check_hash(columns, 'landing') }} as backup_row_check_hash
    from {{ session_backup.landing_source(table_name) }} as landing
    inner join pending_sessions
        on landing.session_id = pending_sessions.session_id
    {{ session_backup.landing_batch_filter(table_name, 'landing') }}
),

landing_values as (
    {#- A keyless table stores each distinct row once per version, with its multiplicity. -#}
    select
        backup_scope,
        session_seq,
        {%- for column in columns %}
        any_value({{ session_backup.quote_name(column.name) }}) as {{ session_backup.quote_name(column.name) }},
        {%- endfor %}
        backup_row_hash,
        backup_row_check_hash,
        count(*) as backup_row_count
    from landing_rows
    group by backup_scope, session_seq, backup_row_hash, backup_row_check_hash
),

landing_hashes as (
    select * from landing_values
),
{%- else -%}
{% if reads_landing_once -%}
landing_rows as (
    {#- One read of the batch's landing rows, pending and re-checked sessions together: BigQuery
        bills every column of every table reference, whatever a join keeps, so the hash, the
        values of changed versions and the re-check all come from this one reference. #}
    select
        checked_sessions.backup_scope,
        checked_sessions.session_seq,
        checked_sessions.is_recheck,
        {%- for column in columns %}
        landing.{{ session_backup.quote_name(column.name) }},
        {%- endfor %}
        {{ session_backup.row_hash(columns, 'landing') }} as backup_row_hash
    from {{ session_backup.landing_source(table_name) }} as landing
    inner join checked_sessions
        on landing.session_id = checked_sessions.session_id
    {{ session_backup.landing_batch_filter(table_name, 'landing', with_rechecks=true) }}
),

landing_hashes as (
    select
        backup_scope,
        session_seq,
        {{ identity_list }},
        backup_row_hash
    from landing_rows
    where not is_recheck
),

landing_values as (
    select * from landing_rows
    where not is_recheck
),
{%- else -%}
landing_hashes as {{ session_backup.not_materialized() }} (
    {#- The pass that reads every landing column, to hash it; it keeps only the narrow state
        (scope, session, key, hash). Values are read again only for the versions that changed
        (landing_values), so no wide copy of the batch is ever held. -#}
    select
        pending_sessions.backup_scope,
        pending_sessions.session_seq,
        {%- for name in identity %}
        landing.{{ name }},
        {%- endfor %}
        {{ session_backup.row_hash(columns, 'landing') }} as backup_row_hash
    from {{ session_backup.landing_source(table_name) }} as landing
    inner join pending_sessions
        on landing.session_id = pending_sessions.session_id
    {{ session_backup.landing_batch_filter(table_name, 'landing') }}
),

landing_values as {{ session_backup.not_materialized() }} (
    {#- Landing rows with their values, joined only with the versions that opened. -#}
    select
        pending_sessions.backup_scope,
        pending_sessions.session_seq,
        {%- for column in columns %}
        landing.{{ session_backup.quote_name(column.name) }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ session_backup.landing_source(table_name) }} as landing
    inner join pending_sessions
        on landing.session_id = pending_sessions.session_id
    {{ session_backup.landing_batch_filter(table_name, 'landing') }}
),
{%- endif %}
{%- endif %}

landing_states as {{ session_backup.not_materialized() }} (
    select
        backup_scope,
        session_seq,
        {{ identity_list }},
        {{ state | join(', ') }},
        cast(null as {{ dbt.type_bigint() }}) as carried_valid_from_seq,
        cast(null as {{ dbt.type_string() }}) as carried_valid_from_session_id
    from landing_hashes
),

{% if reads_head_once -%}
head_rows as (
    {#- One read of Head (the batch's scopes): the hash pass and the values of the Head versions
        that close both come from this reference, as landing_rows does for landing. #}
    select
        head.backup_scope,
        {%- for name in identity %}
        head.{{ name }},
        {%- endfor %}
        {%- if table.is_keyless %}
        head.backup_row_count,
        {%- endif %}
        {%- for column in head_value_columns %}
        head.{{ session_backup.quote_name(column.name) }},
        {%- endfor %}
        head.backup_valid_from_seq,
        head.backup_valid_from_session_id
    from {{ head }} as head
    {{ session_backup.head_scope_filter(table_name, 'head') }}
),

{% endif -%}
head_states as (
    {#- The version each key held before the batch, placed just before the batch's first session. -#}
    {%- if head %}
    select
        head.backup_scope,
        batch_bounds.first_seq - 1 as session_seq,
        {%- for name in identity %}
        head.{{ name }},
        {%- endfor %}
        {%- if table.is_keyless %}
        head.backup_row_count,
        {%- else %}
        {#- Keyed Head rows store no hash (8 incompressible bytes a row, a third of the
            backup's size): it is recomputed here. Columns Head lacks are NULL for its rows
            and NULL adds nothing to the hash, so a column added later changes nothing. #}
        {{ session_backup.row_hash(columns_in_head, 'head') }} as backup_row_hash,
        {%- endif %}
        head.backup_valid_from_seq as carried_valid_from_seq,
        head.backup_valid_from_session_id as carried_valid_from_session_id
    {%- if reads_head_once %}
    from head_rows as head
    inner join batch_bounds
        on head.backup_scope = batch_bounds.backup_scope
    {%- else %}
    from {{ head }} as head
    inner join batch_bounds
        on head.backup_scope = batch_bounds.backup_scope
    {{ session_backup.head_scope_filter(table_name, 'head') }}
    {%- endif %}
    {%- else %}
    select * from landing_states where 1 = 0
    {%- endif %}
),

{% if is_steady -%}
key_states as (
    {{ session_backup.version_key_states('landing_states', 'head_states', identity, compared) }}
),

versions as (
    {{ session_backup.version_pairs('key_states', identity, compared) }}
),
{%- if fold_checksums %}

pending_checksums as (
    {#- A keyed session's checksum from the key states: one row per key, so the sums over the
        keys are the sums over the rows (a key twice is refused anyway, see has_duplicate_key). #}
    select
        backup_scope,
        session_seq,
        false as is_recheck,
        landing_row_count as row_count,
        checksum_low,
        checksum_high
    from (
        select
            backup_scope,
            landing_seq as session_seq,
            cast(sum(landing_rows) as {{ dbt.type_bigint() }}) as landing_row_count,
            {{ session_backup.checksum_columns('landing_value') }}
        from key_states
        where landing_rows > 0
        group by backup_scope, landing_seq
    ) as per_session
),
{%- endif %}
{%- else -%}
all_states as {{ session_backup.not_materialized() }} (
    select * from landing_states
    union all
    select * from head_states
),

{%- set rescan = none -%}
{%- if not table.is_keyless and not reads_landing_once -%}
{%- set rescan -%}
        {#- The few irregular keys' rows, read again narrowly: the join on the key runs before
            the hash, so only their rows are hashed a second time. #}
        select
            pending_sessions.backup_scope,
            pending_sessions.session_seq,
            {%- for name in identity %}
            landing.{{ name }},
            {%- endfor %}
            {{ session_backup.row_hash(columns, 'landing') }} as backup_row_hash,
            cast(null as {{ dbt.type_bigint() }}) as carried_valid_from_seq,
            cast(null as {{ dbt.type_string() }}) as carried_valid_from_session_id
        from {{ session_backup.landing_source(table_name) }} as landing
        inner join pending_sessions
            on landing.session_id = pending_sessions.session_id
        inner join irregular_keys
            on irregular_keys.backup_scope = pending_sessions.backup_scope
            {%- for name in identity %}
            and irregular_keys.{{ name }} is not distinct from landing.{{ name }}
            {%- endfor %}
        {{ session_backup.landing_batch_filter(table_name, 'landing') }}
        union all
        select head_states.*
        from head_states
        inner join irregular_keys
            on irregular_keys.backup_scope = head_states.backup_scope
            {%- for name in identity %}
            and irregular_keys.{{ name }} is not distinct from head_states.{{ name }}
            {%- endfor %}
{%- endset -%}
{%- endif %}
versions as (
    {{ session_backup.version_runs('all_states', identity, state, compared, rescan) }}
),
{%- if fold_checksums %}

pending_checksums as (
    select
        backup_scope,
        session_seq,
        false as is_recheck,
        {{ session_backup.checksum_columns('backup_row_hash') }}
    from landing_hashes
    group by backup_scope, session_seq
),
{%- endif %}
{%- endif %}

classified as (
    select
        versions.*,
        case
            when versions.last_seen_seq < batch_bounds.last_seq then versions.last_seen_seq + 1
        end as backup_valid_to_seq,
        {%- if table.is_keyless %}
        false as has_null_key
        {%- else %}
        ({% for name in identity %}{{ name }} is null{% if not loop.last %} or {% endif %}{% endfor %}) as has_null_key
        {%- endif %}
    from versions
    inner join batch_bounds
        on versions.backup_scope = batch_bounds.backup_scope
),

changed_versions as (
    select * from classified
    where backup_valid_to_seq is not null
        or not is_head_version
        or has_duplicate_key
        or has_null_key
),

changed_with_values as (
    {#- Values of a version that started in this batch come from its first session's landing
        rows; of one that started earlier, from Head. -#}
    select
        changed_versions.*,
        {%- for column in value_columns %}
        landing_values.{{ session_backup.quote_name(column.name) }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from changed_versions
    {#- left: a NULL key matches nothing, yet must reach the post-hook as a problem. #}
    left join landing_values
        on landing_values.backup_scope = changed_versions.backup_scope
        and landing_values.session_seq = changed_versions.backup_valid_from_seq
        {%- for name in identity %}
        and landing_values.{{ name }} = changed_versions.{{ name }}
        {%- endfor %}
    where not changed_versions.is_head_version
    {%- if head %}
    union all
    select
        changed_versions.*,
        {%- for column in value_columns %}
        {%- if column.name | lower in head_columns %}
        head.{{ session_backup.quote_name(column.name) }}
        {%- else %}
        cast(null as {{ column.data_type }}) as {{ session_backup.quote_name(column.name) }}
        {%- endif %}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from changed_versions
    inner join {{ 'head_rows' if reads_head_once else head }} as head
        on head.backup_scope = changed_versions.backup_scope
        {%- for name in identity %}
        and head.{{ name }} = changed_versions.{{ name }}
        {%- endfor %}
    {%- if reads_head_once %}
    where changed_versions.is_head_version
    {%- else %}
    {{ session_backup.head_scope_filter(table_name, 'head', 'changed_versions.is_head_version') }}
    {%- endif %}
    {%- endif %}
),

changes as (
    select
        changed_with_values.*,
        case
            when has_duplicate_key or has_null_key then 'problem'
            when backup_valid_to_seq is not null then 'closed'
            else 'opened'
        end as change_kind,
        coalesce(carried_valid_from_session_id, opened_in.session_id) as backup_valid_from_session_id,
        closed_in.session_id as backup_valid_to_session_id,
        closed_in.started_at as backup_valid_to_at
    from changed_with_values
    left join pending_sessions as opened_in
        on opened_in.backup_scope = changed_with_values.backup_scope
        and opened_in.session_seq = changed_with_values.backup_valid_from_seq
    left join pending_sessions as closed_in
        on closed_in.backup_scope = changed_with_values.backup_scope
        and closed_in.session_seq = changed_with_values.backup_valid_to_seq
)

{%- if fold_checksums %},

recheck_rows as (
    {%- if reads_landing_once %}
    select backup_scope, session_seq, backup_row_hash
    from landing_rows
    where is_recheck
    {%- else %}
    select
        recheck_sessions.backup_scope,
        recheck_sessions.session_seq,
        {{ session_backup.row_hash(columns, 'landing') }} as backup_row_hash
    from {{ session_backup.landing_source(table_name) }} as landing
    inner join checked_sessions as recheck_sessions
        on landing.session_id = recheck_sessions.session_id
        and recheck_sessions.is_recheck
    {{ session_backup.landing_batch_filter(table_name, 'landing', with_rechecks=true) }}
    {%- endif %}
),

session_checksums as (
    select * from pending_checksums
    union all
    select
        backup_scope,
        session_seq,
        true as is_recheck,
        {{ session_backup.checksum_columns('backup_row_hash') }}
    from recheck_rows
    group by backup_scope, session_seq
),

change_rows as (
    select
        *,
        cast(backup_valid_to_at as date) as backup_closed_date,
        0 as backup_row_side
    from changes
),

checksum_rows as (
    {#- One row per checked session, beside the change rows (change_kind is NULL on these); a
        session with no rows is a real, empty state and is recorded as such. Read through
        session_checksums(). #}
    select
        checked_sessions.session_id as backup_checksum_session_id,
        checked_sessions.backup_scope as backup_checksum_scope,
        checked_sessions.session_seq as backup_checksum_session_seq,
        checked_sessions.is_recheck as backup_checksum_is_recheck,
        coalesce(session_checksums.row_count, 0) as backup_checksum_row_count,
        coalesce(session_checksums.checksum_low, 0) as backup_checksum_low,
        coalesce(session_checksums.checksum_high, 0) as backup_checksum_high,
        1 as backup_checksum_side
    from checked_sessions
    left join session_checksums
        on session_checksums.backup_scope = checked_sessions.backup_scope
        and session_checksums.session_seq = checked_sessions.session_seq
        and session_checksums.is_recheck = checked_sessions.is_recheck
)

select
    change_rows.*,
    checksum_rows.*,
    {#- Which dbt invocation computed the row: backup_commit only commits its own run's. #}
    {{ session_backup.sql_string(invocation_id) }} as backup_invocation_id
from change_rows
{#- Never matches (0 = 1): both kinds of rows, each with NULLs for the other's columns. #}
full outer join checksum_rows
    on change_rows.backup_row_side = checksum_rows.backup_checksum_side
{%- else %}

select
    *,
    cast(backup_valid_to_at as date) as backup_closed_date,
    {#- Which dbt invocation computed the row: backup_commit only commits its own run's. #}
    {{ session_backup.sql_string(invocation_id) }} as backup_invocation_id
from changes
{%- endif %}
    {%- endif -%}
{% endmacro %}


{% macro _batch_has_one_session_per_scope(table_name) %}
    {#- The steady state (one new session per scope) needs no ordering, only a comparison with
        Head: a hash join instead of a sort of every row (3x faster on lineitem). -#}
    {%- set query -%}
        select coalesce(max(sessions_in_scope), 0)
        from (
            select count(*) as sessions_in_scope
            from ({{ session_backup.pending_sessions(table_name) }}) as pending
            group by backup_scope
        ) as per_scope
    {%- endset -%}
    {%- set result = run_query(query) -%}
    {{ return(result.columns[0].values()[0] | int <= 1) }}
{% endmacro %}


{% macro not_materialized() %}
    {#- Marks a CTE that is read more than once as one to inline, not to materialize: the batch's
        landing rows are re-read (cheap, columnar) instead of being copied (DuckDB materializes
        such CTEs by default; a catch-up's copy would not fit its memory limit). -#}
    {{ return(adapter.dispatch('not_materialized', 'session_backup')()) }}
{% endmacro %}

{% macro default__not_materialized() %}
    {#- BigQuery never materializes a CTE: nothing to say. -#}
    {{ return('') }}
{% endmacro %}

{% macro duckdb__not_materialized() %}
    {{ return('not materialized') }}
{% endmacro %}


{% macro head_scope_filter(table_name, head_alias, condition='true') %}
    {#- WHERE clause of a Head read: `condition`, and on BigQuery the batch's scopes as constants.
        Head is clustered by scope, and BigQuery prunes clustered blocks on a constant filter
        only (a join prunes nothing): a run reads the Head of the scopes it backs up, not of
        every scope. -#}
    {{ return(adapter.dispatch('head_scope_filter', 'session_backup')(table_name, head_alias, condition)) }}
{% endmacro %}

{% macro default__head_scope_filter(table_name, head_alias, condition) %}
    {#- DuckDB: the join with the batch's scopes prunes as well as a constant. -#}
    {{ return('where ' ~ condition) }}
{% endmacro %}

{% macro bigquery__head_scope_filter(table_name, head_alias, condition) %}
    {%- if not execute -%}{{ return('where ' ~ condition) }}{%- endif -%}
    {%- set query -%}
        select distinct backup_scope from ({{ session_backup.pending_sessions(table_name) }}) as pending order by 1
    {%- endset -%}
    {%- set scopes = run_query(query).columns[0].values() -%}
    {%- if scopes | length == 0 -%}{{ return('where false') }}{%- endif -%}
    {%- set literals = [] -%}
    {%- for scope in scopes -%}{%- do literals.append(session_backup.bigquery_string_literal(scope)) -%}{%- endfor -%}
    {{ return('where ' ~ condition ~ ' and ' ~ head_alias ~ '.backup_scope in (' ~ literals | join(', ') ~ ')') }}
{% endmacro %}


{% macro reads_landing_once() %}
    {#- Whether change detection reads the batch's landing rows through one reference (all
        columns, every use from it) rather than once per use. -#}
    {{ return(adapter.dispatch('reads_landing_once', 'session_backup')()) }}
{% endmacro %}

{% macro default__reads_landing_once() %}
    {#- BigQuery bills the columns of every table reference in full (a join prunes nothing) and
        never copies a CTE: one reference is one bill of the batch. -#}
    {{ return(true) }}
{% endmacro %}

{% macro duckdb__reads_landing_once() %}
    {#- DuckDB copies a CTE read twice (a catch-up's would not fit the memory limit) and scans
        cheaply: a narrow hash pass, then the values of the changed versions read again. -#}
    {{ return(false) }}
{% endmacro %}


{% macro reads_head_once() %}
    {#- Whether change detection reads Head through one reference (the hash pass and the values
        of the Head versions that close) rather than once per use. -#}
    {{ return(adapter.dispatch('reads_head_once', 'session_backup')()) }}
{% endmacro %}

{% macro default__reads_head_once() %}
    {#- BigQuery: a second reference bills the scopes' Head columns a second time, and a CTE is
        never copied, so one reference is one bill of the touched scopes' Head. -#}
    {{ return(true) }}
{% endmacro %}

{% macro duckdb__reads_head_once() %}
    {#- DuckDB would copy a CTE read twice (all of Head's values for a few closing versions):
        the hash pass reads Head narrowly and the closing versions' values are joined again. -#}
    {{ return(false) }}
{% endmacro %}
