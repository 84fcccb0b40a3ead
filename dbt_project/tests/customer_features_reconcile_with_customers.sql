{{ config(meta={'dagster': {'ref': {'name': 'customer_features'}}}) }}
-- Every real customer in staging has exactly one feature row, and no one else does.
select 'customer count differs' as problem
where (select count(*) from {{ ref('stg_shop__customers') }} where not is_test_account)
   <> (select count(*) from {{ ref('customer_features') }})
