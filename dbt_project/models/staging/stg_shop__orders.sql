-- One row per order_id. Codes normalised (null channel -> 'unknown'). Orders that
-- cannot be trusted are kept with a dq_issue reason (quarantined): intermediate
-- models use only rows where dq_issue is null.
with deduped as (
    {{ dedupe(source('raw', 'orders'), 'order_id', 'order_ts') }}
),

customers as (
    select customer_id, is_test_account from {{ ref('stg_shop__customers') }}
)

select
    o.order_id,
    o.customer_id,
    o.order_ts,
    cast(o.order_ts as date) as order_date,
    coalesce({{ normalise_code('o.channel') }}, 'unknown') as channel,
    {{ normalise_code('o.device') }} as device,
    coalesce(cast(o.discount_pct as double), 0) as discount_pct,
    {{ normalise_code('o.status') }} as status,
    coalesce(c.is_test_account, false) as is_test_account,
    case
        when c.customer_id is null then 'orphan_customer'
        when cast(o.order_ts as date) > {{ as_of_date() }} then 'future_order_ts'
        when {{ normalise_code('o.status') }} not in ('completed', 'cancelled', 'returned') then 'unknown_status'
    end as dq_issue
from deduped as o
left join customers as c on o.customer_id = c.customer_id
