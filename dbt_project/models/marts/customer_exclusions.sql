-- Every customer the data names who has no row in customer_features, with the reason: customers
-- in = customers with features + customers excluded (tests/customers_are_featured_or_excluded.sql).
-- A customer whose orders were all quarantined in staging keeps a feature row (no orders); one whose
-- every line the loader quarantined is in no raw table, only in raw._quarantine.
with customers as (
    select customer_id, is_test_account from {{ ref('stg_shop__customers') }}
),

buyers as (
    select distinct customer_id from {{ ref('stg_shop__orders') }} where customer_id is not null
),

quarantined as (
    select distinct customer_id from {{ source('load_audit', '_quarantine') }}
    where customer_id is not null and entity in ('customers', 'transactions')
),

excluded as (
    select customer_id, 'test or internal account' as reason
    from customers
    where is_test_account
    union all
    select b.customer_id, 'orders without a customer record (quarantined as orphan_customer)'
    from buyers as b
    left join customers as c on b.customer_id = c.customer_id
    where c.customer_id is null
    union all
    select q.customer_id, 'every line quarantined at load (raw._quarantine)'
    from quarantined as q
    left join customers as c on q.customer_id = c.customer_id
    left join buyers as b on q.customer_id = b.customer_id
    where c.customer_id is null and b.customer_id is null
)

select
    customer_id,
    {{ source_customer_id('customer_id') }} as source_customer_id,
    reason
from excluded
