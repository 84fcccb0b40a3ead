-- Every staged order with the checks that need the customer table: an order of an unknown
-- customer is quarantined (orphan_customer, before its own issues), and test accounts' orders
-- are marked so that features leave them out.
with orders as (
    select * from {{ ref('stg_shop__orders') }}
),

customers as (
    select customer_id, is_test_account from {{ ref('stg_shop__customers') }}
)

select
    o.order_id,
    o.customer_id,
    o.order_ts,
    o.order_date,
    o.channel,
    o.device,
    o.discount_pct,
    o.status,
    coalesce(c.is_test_account, false) as is_test_account,
    case when c.customer_id is null then 'orphan_customer' else o.dq_issue end as dq_issue
from orders as o
left join customers as c on o.customer_id = c.customer_id
