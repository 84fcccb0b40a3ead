-- What cleaning did, rule by rule: rows removed (duplicates, at load or in staging), quarantined (kept in
-- staging with a dq_issue, excluded downstream), flagged or fixed. For every raw
-- table, raw_rows = removed + kept rows of its staging model (tested).
{%- set tables = [] %}
{%- for t in var('raw_tables') %}{% do tables.append((t.table, t.staging_model, t.key)) %}{% endfor %}

with
{% for raw_table, model, key in tables %}
{{ raw_table }}_counts as (
    select
        '{{ raw_table }}' as raw_table,
        (select count(*) from {{ source('raw', raw_table) }}) as raw_rows,
        (select count(*) from {{ ref(model) }}) as staged_rows
),
{% endfor %}

rules as (
    {% for raw_table, model, key in tables %}
    select raw_table, 'duplicate_rows' as rule, 'removed' as action, raw_rows - staged_rows as affected_rows
    from {{ raw_table }}_counts
    union all
    -- copies the loader kept out of raw (raw._loads), counted for the loads whose rows raw still holds:
    -- every append, and only the latest full export of each source
    select '{{ raw_table }}', 'duplicate_rows_at_load', 'removed at load', coalesce(sum(rows_duplicate), 0)
    from {{ source('load_audit', '_loads') }} as l
    where raw_table = '{{ raw_table }}' and (mode not in ('replace', 'full') or loaded_at = (
        select max(loaded_at) from {{ source('load_audit', '_loads') }} as m
        where m.source = l.source and m.raw_table = l.raw_table))
    union all
    {% endfor %}

    select 'customers', 'email_case_whitespace', 'fixed', (select count(distinct customer_id) from {{ source('raw', 'customers') }} where email <> {{ normalise_code('email') }})
    union all
    select 'customers', 'code_case_whitespace', 'fixed', ({{ count_respelled_rows('customers', 'customer_id', ['country_code', 'region', 'gender']) }})
    union all
    select 'customers', 'null_gender', 'fixed', count(*) from {{ ref('stg_shop__customers') }} where gender = 'unknown'
    union all
    select 'customers', 'invalid_birth_date', 'flagged', count(*) from {{ ref('stg_shop__customers') }} where has_invalid_birth_date
    union all
    select 'customers', 'missing_birth_date', 'flagged', count(*) from {{ ref('stg_shop__customers') }} where birth_date is null and not has_invalid_birth_date
    union all
    select 'customers', 'future_signup_date', 'flagged', count(*) from {{ ref('stg_shop__customers') }} where has_future_signup_date
    union all
    select 'customers', 'test_account', 'excluded', count(*) from {{ ref('stg_shop__customers') }} where is_test_account
    union all
    select 'customers', 'derived_from_transactions', 'added', count(*) from {{ source('raw', 'customers') }} where _file = 'derived from transactions'
    union all
    -- rows the loader could not trust never reach raw: counted here by entity and column
    select
        case entity when 'transactions' then 'orders' else entity end,
        'unreadable_or_missing_' || column_name,
        'quarantined at load',
        count(*)
    from {{ source('load_audit', '_quarantine') }}
    group by 1, 2
    union all
    select 'orders', 'code_case_whitespace', 'fixed', ({{ count_respelled_rows('orders', 'order_id', ['channel', 'status']) }})
    union all
    select 'orders', 'null_channel', 'fixed', count(*) from {{ ref('stg_shop__orders') }} where channel = 'unknown'
    union all
    select 'orders', 'test_account_order', 'excluded', count(*) from {{ ref('int_orders__checked') }} where is_test_account and dq_issue is null
    union all
    select 'orders', dq_issue, 'quarantined', count(*) from {{ ref('int_orders__checked') }} where dq_issue is not null group by dq_issue
    union all
    select 'order_items', dq_issue, 'quarantined', count(*) from {{ ref('int_order_items__checked') }} where dq_issue is not null group by dq_issue
    union all
    select 'order_items', 'refund_line', 'netted', count(*) from {{ ref('int_order_items__checked') }} where line_type = 'refund' and dq_issue is null
    union all
    select 'products', 'code_case_whitespace', 'fixed', ({{ count_respelled_rows('products', 'product_id', ['category']) }})
    union all
    select 'web_events', 'code_case_whitespace', 'fixed', ({{ count_respelled_rows('web_events', 'event_id', ['event_type', 'device']) }})
    union all
    select 'marketing_touches', 'code_case_whitespace', 'fixed', ({{ count_respelled_rows('marketing_touches', 'touch_id', ['channel']) }})
),

totals as (
    {% for raw_table, model, key in tables %}
    select * from {{ raw_table }}_counts
    {{ 'union all' if not loop.last }}
    {% endfor %}
)

select
    r.raw_table,
    r.rule,
    r.action,
    cast(r.affected_rows as bigint) as affected_rows,
    cast(t.raw_rows as bigint) as raw_rows,
    cast(t.staged_rows as bigint) as staged_rows
from rules as r
inner join totals as t on r.raw_table = t.raw_table
