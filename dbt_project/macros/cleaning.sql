{#- Cleaning rules shared by the staging models and the data-quality report, so both agree. -#}

{#- Codes arrive as 'WEB', ' web ', 'Web': compare and store them trimmed and lower-cased. -#}
{% macro normalise_code(column) -%}
    lower(trim({{ column }}))
{%- endmacro %}

{#- The date features are computed as of: var('as_of_date'), or today. -#}
{% macro as_of_date() -%}
    {%- if var('as_of_date', none) -%}
        {{ date_var('as_of_date') }}
    {%- else -%}
        cast({{ dbt.current_timestamp() }} as date)
    {%- endif -%}
{%- endmacro %}

{#- A date var as a SQL date literal. Only YYYY-MM-DD reaches the SQL: anything else (a crafted
    "2026-01-01' or '1'='1") stops the compile naming the var, so a var can never change a query. -#}
{% macro date_var(name) -%}
    {%- set value = var(name) | string | trim -%}
    {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', value) -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ " must be a date written YYYY-MM-DD, not " ~ value) }}
    {%- endif -%}
    cast('{{ value }}' as date)
{%- endmacro %}

{#- True for test/internal accounts: known test domains, QA aliases or a TEST placeholder name.
    Never null: a missing email or name is not evidence of a test account. -#}
{% macro is_test_account(email_column, first_name_column) -%}
    coalesce((
        {%- for domain in var('test_email_domains') %}
        {{ normalise_code(email_column) }} like '%@{{ domain }}' or
        {%- endfor %}
        {{ normalise_code(email_column) }} like 'qa+%'
        or upper(trim({{ first_name_column }})) = 'TEST'
    ), false)
{%- endmacro %}

{#- The order in which several rows of one key are kept: the newest export first (a source's own load already
    keeps each key once; the same key from two sources keeps the later load), then by source name for a tie. -#}
{% macro newest_export_first() -%}
    _loaded_at desc, _source
{%- endmacro %}

{#- Keep one row per key; exact duplicate rows in exports are common. When no key repeats the table is read as it
    is, without ranking every row. -#}
{% macro dedupe(relation, key, order_by, raw_table) -%}
    {%- if keys_repeat(relation, key, raw_table) %}
    select * from (
        select *, row_number() over (partition by {{ key }} order by {{ order_by }}) as _row_in_key
        from {{ relation }}
    ) as ranked
    where _row_in_key = 1
    {%- else %}
    select * from {{ relation }}
    {%- endif %}
{%- endmacro %}

{#- Whether any key of `relation` (rows of raw.<raw_table>) is on more than one row. True when it cannot be known:
    at parse time, and in unit tests, whose inputs are fixtures rather than tables. False without a query when the
    load ledger vouches for the table's keys (keys_vouched_unique); otherwise the keys are counted. -#}
{% macro keys_repeat(relation, key, raw_table) -%}
    {%- if not execute or model.resource_type == 'unit_test' -%}
        {{ return(true) }}
    {%- endif -%}
    {%- if keys_vouched_unique(raw_table) -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set counted = run_query("select count(*) - count(distinct " ~ key ~ ") as repeats from " ~ relation) -%}
    {{ return(counted.columns[0].values()[0] != 0) }}
{%- endmacro %}

{#- Whether no two rows of raw.<raw_table> share a key, as the load ledger vouches: the var keys_vouched_unique, the
    tables Dagster's dbt steps list (orchestration/lib/staging_builds.keys_vouched_unique, the one home of that
    rule). dbt run by hand without it counts the keys instead, and stages the facts as incremental tables. -#}
{% macro keys_vouched_unique(raw_table) -%}
    {{ return(raw_table in var('keys_vouched_unique', [])) }}
{%- endmacro %}

{#- a / b, or 0 when b is 0 or null (rates over no activity are 0, not unknown). -#}
{% macro safe_ratio(numerator, denominator) -%}
    coalesce(cast({{ numerator }} as double) / nullif({{ denominator }}, 0), 0)
{%- endmacro %}

{#- Rows of raw.<raw_table> where any of `columns` is not spelled the usual way: the usual
    spelling of a code is the most common raw spelling among values that normalise
    alike. Counts what normalise_code() fixed, once per key (a
    duplicated row is one fix). When the load vouches for the keys, each row is one key, so the rows are counted
    per combination of spellings, a few hundred, instead of normalising and joining every row (the touches at 1M
    customers: 1.0 -> 0.12 s). -#}
{% macro count_respelled_rows(raw_table, key, columns) -%}
    {%- set relation = source('raw', raw_table) %}
    {%- if keys_vouched_unique(raw_table) %}
    select coalesce(sum(r.rows_), 0) from (
        select {{ columns | join(', ') }}, count(*) as rows_ from {{ relation }} group by {{ columns | join(', ') }}
    ) as r
    {%- else %}
    select count(distinct r.{{ key }}) from {{ relation }} as r
    {%- endif %}
    {%- for column in columns %}
    left join (
        select normalised, spelling as usual_spelling from (
            select
                {{ normalise_code(column) }} as normalised,
                {{ column }} as spelling,
                row_number() over (partition by {{ normalise_code(column) }} order by count(*) desc, {{ column }}) as spelling_rank
            from {{ relation }}
            group by {{ normalise_code(column) }}, {{ column }}
        ) as spellings
        where spelling_rank = 1
    ) as usual_{{ loop.index }} on {{ normalise_code('r.' ~ column) }} = usual_{{ loop.index }}.normalised
    {%- endfor %}
    where
    {%- for column in columns %}
        r.{{ column }} <> usual_{{ loop.index }}.usual_spelling {{ 'or' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- A customer's holdout bucket in [0, 1): the first 32 bits of md5(salt:customer_id). Deterministic
    across runs and engines, so the holdout is the same customers in every score, refit and audience. -#}
{% macro holdout_bucket(customer_id) -%}
    {{ return(adapter.dispatch('holdout_bucket', 'microseg')(customer_id)) }}
{%- endmacro %}

{% macro default__holdout_bucket(customer_id) -%}
    cast(cast('0x' || substr(md5(concat('{{ var("holdout_salt") }}', ':', cast({{ customer_id }} as varchar))), 1, 8) as bigint) as double) / 4294967296.0
{%- endmacro %}

{% macro spark__holdout_bucket(customer_id) -%}
    cast(conv(substr(md5(concat('{{ var("holdout_salt") }}', ':', cast({{ customer_id }} as string))), 1, 8), 16, 10) as double) / 4294967296.0
{%- endmacro %}

{#- A double feature, rounded: parallel sums add in a different order each run, so identical raw data
    would differ in the 16th digit (and the segmentation ledger's input fingerprint with it). Nine
    decimals are far below any difference a segment can tell. -#}
{% macro stable(expression) -%}
    round({{ expression }}, {{ var('feature_decimals') }})
{%- endmacro %}
