{% macro landing_columns(table_name, include_session_id=false) %}
    {#- Columns of a landing table in landing order. `session_id` is landing plumbing: the
        backup stores it once per session, not once per row. -#}
    {%- if not execute -%}
        {#- Parsing renders hooks too (the snapshot baseline's post-hooks); nothing can be
            described then, and nothing is run. -#}
        {{ return([]) }}
    {%- endif -%}
    {%- set relation = session_backup.landing_source(table_name) -%}
    {%- set columns = session_backup._landing_columns_cached(relation) -%}
    {%- if columns | length == 0 -%}
        {{ exceptions.raise_compiler_error("session_backup refused: Landing table " ~ relation ~ " does not exist or has no columns; "
            ~ "it is declared for backup in the landing source '" ~ session_backup.setting('session_backup_source') ~ "'.") }}
    {%- endif -%}
    {%- set names = columns | map(attribute='name') | map('lower') | list -%}
    {%- if 'session_id' not in names -%}
        {{ exceptions.raise_compiler_error("session_backup refused: Landing table " ~ relation ~ " has no session_id column; "
            ~ "every landing table must carry the session it belongs to.") }}
    {%- endif -%}
    {%- if include_session_id -%}
        {{ return(columns) }}
    {%- endif -%}
    {{ return(columns | rejectattr('name', 'in', ['session_id', 'SESSION_ID', 'Session_Id']) | list) }}
{% endmacro %}


{% macro is_float_column(column) %}
    {#- Floats need their sign bit hashed: -0.0 = 0.0 compares equal but must restore as -0.0. -#}
    {{ return(column.dtype | lower in ['double', 'float', 'real', 'float4', 'float8', 'float64', 'double precision']) }}
{% endmacro %}


{% macro existing_backup_relation(identifier) %}
    {#- The Head table is read by its own change detection, which cannot `ref` it without a cycle. -#}
    {%- set schema = generate_schema_name(none, none) -%}
    {{ return(adapter.get_relation(database=target.database, schema=schema, identifier=identifier)) }}
{% endmacro %}


{% macro _landing_columns_cached(relation) %}
    {#- One `describe` per landing table and node: a node asks for the same columns many times
        (change detection, Head and History layouts, the commit's statements per table). The
        cache lives as long as the node (node_memo), so the next node (and the next run)
        describes landing again and sees a column added in between. -#}
    {%- set cache = session_backup.node_memo().setdefault('landing_columns', {}) -%}
    {%- set key = relation | string -%}
    {%- if key not in cache -%}
        {%- do cache.update({key: adapter.get_columns_in_relation(relation)}) -%}
    {%- endif -%}
    {{ return(cache[key]) }}
{% endmacro %}
