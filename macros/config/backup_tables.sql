{% macro backup_tables() %}
    {#- Every landing table declared for backup, as dicts, in a stable order.
        The declaration lives in the landing sources YAML (`meta.backup`); this is its only reader. -#}
    {%- set tables = [] -%}
    {%- for node in graph.sources.values() | sort(attribute='name') -%}
        {%- set backup = node.meta.get('backup') -%}
        {%- if node.source_name == session_backup.setting('session_backup_source') and backup is mapping -%}
            {%- do tables.append(session_backup._parse_backup_declaration(node.name, backup)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(tables) }}
{% endmacro %}


{% macro backup_table_config(table_name) %}
    {#- One declared table; a clear error for anything else. -#}
    {%- for table in session_backup.backup_tables() if table.name == table_name -%}
        {{ return(table) }}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error(
        "Table '" ~ table_name ~ "' is not declared for backup: add `meta: {backup: {...}}` to it in "
        ~ "the landing source '" ~ session_backup.setting('session_backup_source') ~ "', then run `session-backup generate`.") }}
{% endmacro %}


{% macro _parse_backup_declaration(table_name, backup) %}
    {%- set key = backup.get('key') or [] -%}
    {%- if key is string -%}{%- set key = [key] -%}{%- endif -%}
    {%- set strategy = backup.get('strategy', 'history') -%}
    {%- if strategy not in ['history', 'full', 'incremental', 'differential', 'snapshot'] -%}
        {{ exceptions.raise_compiler_error("Table '" ~ table_name ~ "': unknown backup strategy '" ~ strategy
            ~ "' (expected history, full, incremental, differential or snapshot).") }}
    {%- endif -%}
    {{ return({
        'name': table_name,
        'key': key,
        'is_keyless': key | length == 0,
        'strategy': strategy,
        'checkpoint_every': backup.get('checkpoint_every', 10),
    }) }}
{% endmacro %}
