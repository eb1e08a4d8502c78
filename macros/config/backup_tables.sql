{% macro backup_tables() %}
    {#- Every landing table declared for backup, as dicts, in a stable order.
        The declaration lives in the landing sources YAML (`meta.backup`); this is its only reader.
        A node asks for them dozens of times (the commit renders five statements per table), and
        each answer walks every source of the project: it is worked out once per node. -#}
    {%- set memo = session_backup.node_memo() -%}
    {%- if 'backup_tables' not in memo -%}
        {%- do memo.update({'backup_tables': session_backup._declared_tables()}) -%}
    {%- endif -%}
    {{ return(memo['backup_tables']) }}
{% endmacro %}


{% macro _declared_tables() %}
    {%- set tables = [] -%}
    {%- for node in graph.sources.values() | sort(attribute='name') -%}
        {%- set backup = node.meta.get('backup') -%}
        {%- if node.source_name == session_backup.setting('session_backup_source') and backup is mapping -%}
            {%- do tables.append(session_backup._parse_backup_declaration(node.name, backup)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(tables) }}
{% endmacro %}


{% macro node_memo() %}
    {#- A dict that lives as long as the node being run (it hangs off the node's own `model`
        context object), for answers that cannot change within a node. Outside a node (hooks,
        run-operation) nothing is kept. -#}
    {%- if model is not mapping -%}{{ return({}) }}{%- endif -%}
    {{ return(model.setdefault('_session_backup_memo', {})) }}
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
