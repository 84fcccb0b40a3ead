-- One row per order_item_id. Refund lines (line_type 'refund', negative quantity)
-- are legitimate and kept; a sale line with quantity <= 0 or an unknown order is
-- quarantined with a dq_issue reason.
with deduped as (
    {{ dedupe(source('raw', 'order_items'), 'order_item_id', 'order_id') }}
),

orders as (
    select order_id, dq_issue from {{ ref('stg_shop__orders') }}
)

select
    i.order_item_id,
    i.order_id,
    i.product_id,
    {{ normalise_code('i.line_type') }} as line_type,
    i.quantity,
    cast(i.unit_price as double) as unit_price,
    i.quantity * cast(i.unit_price as double) as line_amount,
    case
        when o.order_id is null then 'orphan_order'
        when o.dq_issue is not null then 'order_quarantined'
        when {{ normalise_code('i.line_type') }} = 'sale' and i.quantity <= 0 then 'non_positive_quantity'
        when {{ normalise_code('i.line_type') }} = 'refund' and i.quantity >= 0 then 'non_negative_refund'
        when {{ normalise_code('i.line_type') }} not in ('sale', 'refund') then 'unknown_line_type'
        when i.unit_price is null or i.unit_price < 0 then 'invalid_unit_price'
    end as dq_issue
from deduped as i
left join orders as o on i.order_id = o.order_id
