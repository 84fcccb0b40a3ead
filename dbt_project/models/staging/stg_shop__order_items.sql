-- One row per order_item_id (each source's load keeps a key once; across sources the newest export wins). Refund lines (line_type 'refund', negative quantity) are
-- legitimate and kept; a line whose own fields cannot be trusted keeps a dq_issue reason
-- (quarantined). Lines of unknown or quarantined orders are found in int_order_items__checked.
{{ config(materialized=staging_materialization('order_items'), unique_key='order_item_id',
          incremental_strategy='delete+insert',
          post_hook="{{ record_staging_build('order_items') }}") }}
with deduped as (
    {{ dedupe(rows_to_stage(source('raw', 'order_items'), 'order_item_id'), 'order_item_id',
              newest_export_first(), 'order_items') }}
)

select
    order_item_id,
    order_id,
    product_id,
    {{ normalise_code('line_type') }} as line_type,
    quantity,
    cast(unit_price as double) as unit_price,
    quantity * cast(unit_price as double) as line_amount,
    case
        when {{ normalise_code('line_type') }} = 'sale' and quantity <= 0 then 'non_positive_quantity'
        when {{ normalise_code('line_type') }} = 'refund' and quantity >= 0 then 'non_negative_refund'
        when {{ normalise_code('line_type') }} not in ('sale', 'refund') then 'unknown_line_type'
        when unit_price is null or unit_price < 0 then 'invalid_unit_price'
    end as dq_issue
from deduped
