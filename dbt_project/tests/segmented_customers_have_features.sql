{{ config(meta={'dagster': {'ref': {'name': 'customer_segment_details'}}}) }}
-- Every segmented customer has a feature row: customer_segment_details (which joins
-- customer_features) drops none of segments.customer_segments.
select s.customer_id
from {{ source('segments', 'customer_segments') }} as s
left join {{ ref('customer_segment_details') }} as d on s.customer_id = d.customer_id
where d.customer_id is null
