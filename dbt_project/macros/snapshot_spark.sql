{#- dbt snapshots on Spark's Parquet tables. dbt-spark snapshots only Delta, Iceberg or Hudi tables (it updates
    the closed spells with MERGE), and their jars cannot be downloaded here. Parquet has no MERGE or UPDATE, so
    this takes the other sound way: each run computes dbt's own staging rows (snapshot_staging_table: the same
    strategy, the same inserts, closes and hard deletes as on DuckDB), writes the whole new history aside as
    <snapshot>__dbt_next (the old rows, closed where the staging rows close them, plus the new spells) and only
    then swaps it in. A failure while writing leaves the previous history as it was; a run stopped between the
    drop and the rename leaves the complete new history aside, and the next run swaps it in before anything
    else. The history is a few rows per customer: rewriting it costs what a MERGE would read anyway.
    It replaces dbt-spark's snapshot materialization in this project (whose tables are all Parquet). -#}
{% materialization snapshot, adapter='spark' %}
  {%- set target_table = model.get('alias', model.get('name')) -%}
  {%- set columns = config.get('snapshot_table_column_names') or get_snapshot_table_column_names() -%}
  {% if not adapter.check_schema_exists(model.database, model.schema) %}
    {% do create_schema(model.schema) %}
  {% endif %}
  {%- set target_relation = api.Relation.create(schema=model.schema, identifier=target_table, type='table') -%}
  {%- set next_relation = api.Relation.create(schema=model.schema, identifier=target_table ~ '__dbt_next',
                                              type='table') -%}
  {%- set existing = adapter.get_relation(database=none, schema=model.schema, identifier=target_table) -%}
  {%- set waiting = adapter.get_relation(database=none, schema=model.schema, identifier=next_relation.identifier) -%}
  {% if existing is none and waiting is not none %}
    {#- the last run wrote its history in full and stopped between dropping the old one and the rename -#}
    {% do adapter.rename_relation(waiting, target_relation) %}
    {%- set existing = target_relation -%}
  {% elif waiting is not none %}
    {% do adapter.drop_relation(waiting) %}  {#- a failed run's partial rewrite: the history in place stands -#}
  {% endif %}
  {%- if existing is not none and not existing.is_table -%}
    {% do exceptions.relation_wrong_type(existing, 'table') %}
  {%- endif -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {% set strategy = strategy_dispatch(config.get('strategy'))(model, "snapshotted_data", "source_data",
                                                               model['config'], existing is not none) %}
  {% if existing is none %}
    {% set build_sql = build_snapshot_table(strategy, model['compiled_code']) %}
  {% else %}
    {{ adapter.valid_snapshot_target(existing, columns) }}
    {% set staging = spark_build_snapshot_staging_table(strategy, sql, existing) %}
    {% set build_sql = rebuilt_snapshot_sql(existing, staging, columns) %}
  {% endif %}

  {% call statement('main') %}
    {{ create_table_as(False, next_relation, build_sql) }}
  {% endcall %}
  {% if existing is not none %}
    {% do adapter.drop_relation(existing) %}
  {% endif %}
  {% do adapter.rename_relation(next_relation, target_relation) %}

  {% do persist_docs(target_relation, model) %}
  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {{ adapter.commit() }}
  {% if staging is defined %}
    {% do post_snapshot(staging) %}
  {% endif %}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{#- The new history from the old one and dbt's staging rows, as dbt-spark's MERGE would leave it: a spell still
    open whose key the staging rows update or delete gets their dbt_valid_to; the inserts are new spells. A
    column the source gained since is added (empty in the old rows), as dbt adds it before a merge. -#}
{% macro rebuilt_snapshot_sql(history, staging, columns) %}
  {%- set kept = adapter.get_columns_in_relation(history) | map(attribute='name') | list -%}
  {%- set added = adapter.get_columns_in_relation(staging) | map(attribute='name')
                  | reject('in', kept + ['dbt_change_type', 'dbt_unique_key']) | list -%}
  {%- set old_rows, new_rows = [], [] -%}
  {%- for column in kept -%}
    {%- do old_rows.append('coalesce(h.' ~ column ~ ', c.closed_at)' if column == columns.dbt_valid_to
                           else 'h.' ~ adapter.quote(column)) -%}
  {%- endfor -%}
  {%- for column in added -%}{%- do old_rows.append('null') -%}{%- endfor -%}
  {%- for column in kept + added -%}{%- do new_rows.append('s.' ~ adapter.quote(column)) -%}{%- endfor -%}
  with closing as (
      select {{ columns.dbt_scd_id }} as closed_scd_id, {{ columns.dbt_valid_to }} as closed_at
      from {{ staging }}
      where dbt_change_type in ('update', 'delete')
  )
  select
    {%- for expression in old_rows %}
    {{ expression }} as {{ adapter.quote((kept + added)[loop.index0]) }}{{ ',' if not loop.last }}
    {%- endfor %}
  from {{ history }} as h
  left join closing as c on c.closed_scd_id = h.{{ columns.dbt_scd_id }}
  union all
  select {{ new_rows | join(', ') }}
  from {{ staging }} as s
  where s.dbt_change_type = 'insert'
    and not exists (select 1 from {{ history }} as h where h.{{ columns.dbt_scd_id }} = s.{{ columns.dbt_scd_id }})
{% endmacro %}
