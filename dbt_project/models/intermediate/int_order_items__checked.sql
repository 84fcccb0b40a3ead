-- depends_on: {{ customer_build_inputs('int_orders__changed') }}
-- Every staged order line with the checks that need the order table: a line of an unknown
-- order (orphan_order) or of a quarantined order (order_quarantined) is quarantined, before
-- the line's own issues. Rebuilt per changed order (macros/customer_builds.sql).
{{ config(materialized=customer_materialization(), incremental_strategy='changed_customers',
          changed_key='order_id', on_schema_change='sync_all_columns',
          post_hook="{{ record_customer_build() }}") }}
{%- set changed_only = rebuilds_changed_customers() %}
with items as (
    select * from {{ for_orders(ref('stg_shop__order_items'), changed_only) }} as staged
),

orders as (
    select order_id, dq_issue from {{ for_orders(ref('int_orders__checked'), changed_only) }} as checked
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
