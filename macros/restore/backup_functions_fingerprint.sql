{% macro backup_functions_fingerprint() %}
    {#- A digest of everything the SQL of restore_<t>, checksum_<t> and the back-testing
        functions is rendered from: the package's macro code and dbt's version, the declared
        tables, the target, every column of the backup schema's tables and views (Head,
        History, cold views, claims, manifest), the recorded layouts, the declared landing
        tables' columns, and the functions as they stand in the database. Equal digests mean
        rendering again would create the same functions; none means "cannot tell" (rebuild). -#}
    {%- set catalog_digest = adapter.dispatch('functions_catalog_digest', 'session_backup')() -%}
    {%- if catalog_digest is none -%}{{ return(none) }}{%- endif -%}
    {#- The code: every macro of this package, by name (a changed macro renders other SQL). -#}
    {%- set namespace = context.get('session_backup') or {} -%}
    {%- if namespace | length == 0 -%}
        {#- The code cannot be told: never skip on a digest that would not see it change. -#}
        {{ return(none) }}
    {%- endif -%}
    {%- set code = [] -%}
    {%- for name in namespace.keys() | sort -%}
        {%- set macro = namespace[name].macro -%}
        {%- do code.append(name ~ ':' ~ local_md5(macro.macro_sql if macro is defined else '')) -%}
    {%- endfor -%}
    {%- set inputs = [catalog_digest, dbt_version, target.type, target.database, target.schema,
        tojson(session_backup.backup_tables()), local_md5(code | join(','))] -%}
    {{ return(local_md5(inputs | join('|'))) }}
{% endmacro %}


{% macro functions_digest_excluded_tables() %}
    {#- Bookkeeping no function reads: the digest itself, the run log that the CLI creates after
        the first run's hooks (it would change the digest once), and the CLI's BigQuery lock. -#}
    {{ return(['backup_functions_state', 'backup_runs', 'backup_lock']) }}
{% endmacro %}


{% macro _string_literals(values) %}
    {#- The values as SQL string literals, for the digest queries' IN lists. -#}
    {%- set literals = [] -%}
    {%- for value in values -%}{%- do literals.append(session_backup.sql_string(value)) -%}{%- endfor -%}
    {{ return(literals) }}
{% endmacro %}


{% macro default__functions_catalog_digest() %}
    {#- An engine without a catalog query cannot tell: the functions are rebuilt every run. -#}
    {{ return(none) }}
{% endmacro %}


{% macro duckdb__functions_catalog_digest() %}
    {%- set catalog = session_backup.sql_string(target.database) -%}
    {%- set schema = session_backup.sql_string(generate_schema_name(none, none)) -%}
    {%- set excluded = session_backup._string_literals(session_backup.functions_digest_excluded_tables()) -%}
    {%- set landing_names = session_backup._string_literals(session_backup.backup_tables() | map(attribute='name') | list) -%}
    {%- set landing = session_backup.landing_source('sessions') -%}
    {%- set layouts = session_backup.existing_backup_relation('backup_layouts') -%}
    {%- set query -%}
        select md5(coalesce(string_agg(entry, chr(10) order by entry), '')) from (
            select concat_ws(chr(31), 'column', table_name, ordinal_position, column_name, data_type) as entry
            from information_schema.columns
            where table_catalog = {{ catalog }} and table_schema = {{ schema }}
                and table_name not in ({{ excluded | join(', ') }})
            union all
            select concat_ws(chr(31), 'landing', table_name, ordinal_position, column_name, data_type)
            from information_schema.columns
            where table_catalog = {{ session_backup.sql_string(landing.database) }}
                and table_schema = {{ session_backup.sql_string(landing.schema) }}
                {%- if landing_names %}
                and table_name in ({{ landing_names | join(', ') }})
                {%- else %}
                and false
                {%- endif %}
            union all
            select concat_ws(chr(31), 'function', function_name, function_type, coalesce(macro_definition, ''))
            from duckdb_functions()
            where database_name = {{ catalog }} and schema_name = {{ schema }}
            {%- if layouts is not none %}
            union all
            select concat_ws(chr(31), 'layout', table_name, layout_id, column_position, column_name, data_type, recorded_at)
            from {{ layouts }}
            {%- endif %}
        ) as entries
    {%- endset -%}
    {{ return(run_query(query).columns[0].values()[0]) }}
{% endmacro %}


{% macro bigquery__functions_catalog_digest() %}
    {#- One query over the dataset's INFORMATION_SCHEMA (columns of tables and views, routines
        with their DDL), landing's columns and the recorded layouts: four 10 MB minimums a run,
        against re-creating every function (one DDL job each, about a second apiece). -#}
    {%- set dataset = '`' ~ target.database ~ '`.`' ~ generate_schema_name(none, none) ~ '`' -%}
    {%- set landing = session_backup.landing_source('sessions') -%}
    {%- set excluded = session_backup._string_literals(session_backup.functions_digest_excluded_tables()) -%}
    {%- set landing_names = session_backup._string_literals(session_backup.backup_tables() | map(attribute='name') | list) -%}
    {%- set layouts = session_backup.existing_backup_relation('backup_layouts') -%}
    {%- set query -%}
        select to_hex(md5(coalesce(string_agg(entry, '' order by entry), ''))) from (
            select {{ session_backup._digest_entry(["'column'", 'table_name', 'cast(ordinal_position as string)', 'column_name', 'data_type']) }} as entry
            from {{ dataset }}.INFORMATION_SCHEMA.COLUMNS
            where table_name not in ({{ excluded | join(', ') }})
            union all
            select {{ session_backup._digest_entry(["'landing'", 'table_name', 'cast(ordinal_position as string)', 'column_name', 'data_type']) }}
            from `{{ landing.database }}`.`{{ landing.schema }}`.INFORMATION_SCHEMA.COLUMNS
            {%- if landing_names %}
            where table_name in ({{ landing_names | join(', ') }})
            {%- else %}
            where false
            {%- endif %}
            union all
            select {{ session_backup._digest_entry(["'function'", 'routine_name', 'routine_type', 'ddl']) }}
            from {{ dataset }}.INFORMATION_SCHEMA.ROUTINES
            {%- if layouts is not none %}
            union all
            select {{ session_backup._digest_entry(["'layout'", 'table_name', 'layout_id', 'cast(column_position as string)', 'column_name', 'data_type', 'cast(recorded_at as string)']) }}
            from {{ layouts }}
            {%- endif %}
        ) as entries
    {%- endset -%}
    {{ return(run_query(query).columns[0].values()[0]) }}
{% endmacro %}


{% macro _digest_entry(expressions) %}
    {#- Each field as its length, ':' and itself (NULL as '-'): no name, whatever characters it
        holds, can make two different catalogs read as one. -#}
    {%- set parts = [] -%}
    {%- for expression in expressions -%}
        {%- do parts.append("coalesce(concat(cast(length(" ~ expression ~ ") as string), ':', " ~ expression ~ "), '-')") -%}
    {%- endfor -%}
    concat({{ parts | join(', ') }})
{%- endmacro %}


{% macro stored_functions_fingerprint() %}
    {#- The digest recorded when the functions were last created, or none. -#}
    {%- set state = session_backup.existing_backup_relation('backup_functions_state') -%}
    {%- if state is none -%}{{ return(none) }}{%- endif -%}
    {%- set rows = run_query('select fingerprint from ' ~ state).rows -%}
    {{ return(rows[0][0] if rows | length == 1 else none) }}
{% endmacro %}


{% macro store_functions_fingerprint(fingerprint) %}
    {#- Written after the functions, in the same transaction (DuckDB): a run killed before it
        leaves the old digest, so the next run rebuilds. -#}
    {%- set schema = generate_schema_name(none, none) -%}
    {%- set state = api.Relation.create(database=target.database, schema=schema, identifier='backup_functions_state') -%}
    {%- do run_query('create table if not exists ' ~ state ~ ' (fingerprint ' ~ dbt.type_string() ~ ', created_at ' ~ dbt.type_timestamp() ~ ')') -%}
    {%- do run_query('delete from ' ~ state ~ ' where true') -%}
    {%- do run_query('insert into ' ~ state ~ ' values (' ~ session_backup.sql_string(fingerprint) ~ ', current_timestamp)') -%}
{% endmacro %}
