{% macro landing_layout(table_name) %}
    {#- The columns (name and type, landing order, session_id included) a table lands with now,
        and an id for that layout. Each manifest row names the layout its session landed with,
        so restores follow what was stored, not what landing looks like later. -#}
    {%- set columns = [] -%}
    {%- for column in session_backup.landing_columns(table_name, include_session_id=true) -%}
        {%- do columns.append({'name': column.name, 'data_type': column.data_type}) -%}
    {%- endfor -%}
    {%- set serialized = [] -%}
    {%- for column in columns -%}{%- do serialized.append([column.name, column.data_type]) -%}{%- endfor -%}
    {{ return({'layout_id': local_md5(tojson(serialized)), 'columns': columns}) }}
{% endmacro %}


{% macro stored_columns(table_name, include_session_id=true) %}
    {#- The newest layout the backup recorded for a table, as columns (name, data_type, dtype),
        or none before its first backup. Layouts only grow (a dropped or retyped column is
        refused), so the newest one holds every column any backed-up session has. -#}
    {%- set layouts = session_backup.existing_backup_relation('backup_layouts') -%}
    {%- if layouts is none -%}{{ return(none) }}{%- endif -%}
    {%- set table_literal = session_backup.sql_string(table_name) -%}
    {%- set query -%}
        select column_name, data_type
        from {{ layouts }}
        where table_name = {{ table_literal }}
            and recorded_at = (
                select max(recorded_at) from {{ layouts }} where table_name = {{ table_literal }}
            )
        order by column_position
    {%- endset -%}
    {%- set rows = run_query(query).rows -%}
    {%- if rows | length == 0 -%}{{ return(none) }}{%- endif -%}
    {%- set columns = [] -%}
    {%- for row in rows if include_session_id or row[0] | lower != 'session_id' -%}
        {%- do columns.append({'name': row[0], 'data_type': row[1], 'dtype': row[1]}) -%}
    {%- endfor -%}
    {{ return(columns) }}
{% endmacro %}


{% macro layout_insert_sql(table_name) %}
    {#- Records the layout the batch's sessions landed with, once per distinct layout, and only
        when the batch backs up a session of the table. -#}
    {%- set layout = session_backup.landing_layout(table_name) -%}
    {%- set layouts = ref('backup_layouts') -%}
    {%- set table_literal = session_backup.sql_string(table_name) -%}
    {%- set id_literal = session_backup.sql_string(layout.layout_id) -%}
    {%- set statement_sql -%}
    insert into {{ layouts }} (table_name, layout_id, column_position, column_name, data_type, recorded_at)
    select table_name, layout_id, column_position, column_name, data_type, current_timestamp
    from (
        {%- for column in layout.columns %}
        select
            {{ table_literal }} as table_name,
            {{ id_literal }} as layout_id,
            {{ loop.index }} as column_position,
            {{ session_backup.sql_string(column.name) }} as column_name,
            {{ session_backup.sql_string(column.data_type) }} as data_type
        {%- if not loop.last %}
        union all{% endif %}
        {%- endfor %}
    ) as layout_columns
    where exists (select 1 from {{ session_backup.session_checksums(table_name) }} as checksums where not is_recheck)
        and not exists (
            select 1 from {{ layouts }}
            where table_name = {{ table_literal }} and layout_id = {{ id_literal }}
        )
    {%- endset -%}
    {{ return(statement_sql) }}
{% endmacro %}


{% macro restore_columns(table_name, include_session_id=true) %}
    {#- The columns a restore of the table returns: the stored layout (the newest, which holds
        every column any backed-up session has), or for a backup older than layout records the
        landing columns; none when neither exists. Never today's landing when a layout is stored:
        a refused or failed run must not change what older sessions restore to. -#}
    {%- set stored = session_backup.stored_columns(table_name, include_session_id) -%}
    {%- if stored is not none -%}{{ return(stored) }}{%- endif -%}
    {%- if adapter.get_columns_in_relation(session_backup.landing_source(table_name)) | length == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(session_backup.landing_columns(table_name, include_session_id)) }}
{% endmacro %}
