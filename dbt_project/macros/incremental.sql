{#- Incremental staging of the append-only facts (orders, order lines, web events, marketing touches).

    On DuckDB these models are views over raw while the load ledger vouches for their keys (one source, or sources
    that share no key), and otherwise incremental: a build re-stages only the keys that have raw rows loaded since the
    last build, from *all* of those keys' raw rows, so the dedupe picks the row a full build would pick, and
    replaces the staged row (delete+insert on the key). Elsewhere (Spark: Parquet tables, no delete+insert)
    they stay tables, rebuilt in full.

    What each build saw is recorded beside the models, in the same transaction as the model's rows
    (staging._incremental_builds): how far raw was loaded, how many raw rows that was, the as-of date and the
    code. The dbt_features asset compares it with raw before the next build and passes --full-refresh when an
    incremental build could be wrong (raw rows removed or replaced, the code changed): the one place that
    decides it (orchestration/lib/staging_builds.py). -#}

{% macro stages_incrementally() -%}
    {{ return(target.type == 'duckdb') }}
{%- endmacro %}

{#- A view over raw when its keys are vouched unique (nothing to deduplicate: a copy would only cost time and
    memory), else incremental; a table on other engines. Read at parse time, from the vars of the dbt call. -#}
{% macro staging_materialization(raw_table) -%}
    {%- if not stages_incrementally() -%}
        {{ return('table') }}
    {%- endif -%}
    {{ return('view' if keys_vouched_unique(raw_table) else 'incremental') }}
{%- endmacro %}

{#- in the staging schema (orchestration/lib/staging_builds.py reads it there); named in full, as dbt names
    relations, so the column lineage can resolve it beside them -#}
{% macro staging_builds_table() -%}
    {{ api.Relation.create(database=target.database, schema='staging', identifier='_incremental_builds') }}
{%- endmacro %}

{#- What the last build of this model recorded (a scalar subquery; NULL before the first record). -#}
{% macro last_staging_build(column) -%}
    (select {{ column }} from {{ staging_builds_table() }} where model = '{{ this.name }}')
{%- endmacro %}

{#- The raw rows to stage: all of them in a full build; in an incremental one, every raw row of each key that
    has a row loaded since the last build (or one written without _loaded_at). With as_of_column, also the
    keys whose rows lie after the earlier of the last and this build's as-of date: their quarantine for a
    future date may change when the as-of date moves. -#}
{% macro rows_to_stage(relation, key, as_of_column=none) -%}
    {%- if is_incremental() -%}
    (select * from {{ relation }} where {{ key }} is null or {{ key }} in (
        select {{ key }} from {{ relation }}
        where _loaded_at is null
           or _loaded_at > coalesce({{ last_staging_build('loaded_through') }}, timestamp '1970-01-01')
        {%- if as_of_column %}
           or cast({{ as_of_column }} as date) > least({{ last_staging_build('as_of_date') }}, {{ as_of_date() }})
        {%- endif %}
    )) as rows_to_stage
    {%- else -%}
    {{ relation }}
    {%- endif -%}
{%- endmacro %}

{#- on-run-start: the table of records, before any model runs. -#}
{% macro create_staging_builds_table() -%}
    {%- if stages_incrementally() -%}
    create schema if not exists staging;
    create table if not exists {{ staging_builds_table() }} (
        model varchar, raw_table varchar, loaded_through timestamp, raw_rows bigint, as_of_date date,
        code_fingerprint varchar, full_refresh boolean, built_at timestamp, lists_key varchar);
    {#- a record made before the per-customer builds (macros/customer_builds.sql) lacks their column -#}
    alter table {{ staging_builds_table() }} add column if not exists lists_key varchar
    {%- endif -%}
{%- endmacro %}

{#- Post-hook: what this build saw of raw.<raw_table>, inside the model's transaction (both or neither). -#}
{% macro record_staging_build(raw_table) -%}
    {%- if stages_incrementally() -%}
    delete from {{ staging_builds_table() }} where model = '{{ this.name }}';
    insert into {{ staging_builds_table() }}
        (model, raw_table, loaded_through, raw_rows, as_of_date, code_fingerprint, full_refresh, built_at)
    select '{{ this.name }}', '{{ raw_table }}', max(_loaded_at), count(_loaded_at), {{ as_of_date() }},
           '{{ var("staging_fingerprints", {}).get(this.name, "") }}', {{ not is_incremental() }}, now()
    from {{ source('raw', raw_table) }}
    {%- endif -%}
{%- endmacro %}

{#- on-run-start: a build of feature models (not only marts/segments) is under way, so the record of the last
    complete one (staging._feature_builds, which lets dbt_features skip a build of unchanged inputs) no longer
    describes the tables; dbt_features writes it again once this build has succeeded in full (on DuckDB, the
    warehouse Dagster reads). -#}
{% macro forget_feature_build() -%}
    {%- set feature_models = [] -%}
    {%- for uid in selected_resources if uid.startswith('model.') and 'segments' not in graph.nodes[uid].fqn -%}
        {%- do feature_models.append(uid) -%}
    {%- endfor -%}
    {%- if feature_models and stages_incrementally() -%}
    create schema if not exists staging;
    create table if not exists staging._feature_builds (fingerprint varchar, dagster_run_id varchar, built_at timestamp);
    delete from staging._feature_builds
    {%- endif -%}
{%- endmacro %}
