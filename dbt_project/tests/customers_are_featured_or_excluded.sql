{{ config(meta={'dagster': {'ref': {'name': 'customer_exclusions'}}}) }}
-- Every customer id the data holds (customers, orders, lines the loader quarantined) is in exactly
-- one of customer_features and customer_exclusions, and neither lists anyone else.
with known as (
    select customer_id from {{ ref('stg_shop__customers') }}
    union
    select customer_id from {{ ref('stg_shop__orders') }} where customer_id is not null
    union
    select customer_id from {{ source('load_audit', '_quarantine') }}
    where customer_id is not null and entity in ('customers', 'transactions')
),

accounted as (
    select customer_id from {{ ref('customer_features') }}
    union all
    select customer_id from {{ ref('customer_exclusions') }}
)

select coalesce(k.customer_id, a.customer_id) as customer_id, count(a.customer_id) as rows_accounted
from known as k
full outer join accounted as a on k.customer_id = a.customer_id
group by coalesce(k.customer_id, a.customer_id)
having count(a.customer_id) <> 1 or count(k.customer_id) = 0
