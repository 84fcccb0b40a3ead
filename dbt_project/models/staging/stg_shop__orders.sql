-- One row per order_id (each source's load keeps a key once; across sources the newest export wins). Codes normalised (null channel -> 'unknown'). An order whose own
-- fields cannot be trusted keeps a dq_issue reason (quarantined); checks that need another
-- table (unknown customer) are made in int_orders__checked.
{{ config(materialized=staging_materialization('orders'), unique_key='order_id',
          incremental_strategy='delete+insert',
          post_hook="{{ record_staging_build('orders') }}") }}
with deduped as (
    {{ dedupe(rows_to_stage(source('raw', 'orders'), 'order_id', as_of_column='order_ts'), 'order_id',
              newest_export_first(), 'orders') }}
)

select
    order_id,
    customer_id,
    order_ts,
    cast(order_ts as date) as order_date,
    coalesce({{ normalise_code('channel') }}, 'unknown') as channel,
    {{ normalise_code('device') }} as device,
    coalesce(cast(discount_pct as double), 0) as discount_pct,
    {{ normalise_code('status') }} as status,
    case
        when cast(order_ts as date) > {{ as_of_date() }} then 'future_order_ts'
        when {{ normalise_code('status') }} not in ('completed', 'cancelled', 'returned') then 'unknown_status'
    end as dq_issue
from deduped
