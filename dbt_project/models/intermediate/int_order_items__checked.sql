-- Every staged order line with the checks that need the order table: a line of an unknown
-- order (orphan_order) or of a quarantined order (order_quarantined) is quarantined, before
-- the line's own issues.
with items as (
    select * from {{ ref('stg_shop__order_items') }}
),

orders as (
    select order_id, dq_issue from {{ ref('int_orders__checked') }}
)

select
    i.order_item_id,
    i.order_id,
    i.product_id,
    i.line_type,
    i.quantity,
    i.unit_price,
    i.line_amount,
    case
        when o.order_id is null then 'orphan_order'
        when o.dq_issue is not null then 'order_quarantined'
        else i.dq_issue
    end as dq_issue
from items as i
left join orders as o on i.order_id = o.order_id
