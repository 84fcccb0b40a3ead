-- depends_on: {{ customer_build_inputs() }}
-- Demographics and geography of real (non-test) customers (the age is counted in customer_features, from the
-- birth date: a moved as-of date leaves these rows as they are).
{{ config(materialized=customer_materialization(), incremental_strategy='changed_customers',
          changed_in=[], on_schema_change='sync_all_columns',
          post_hook="{{ record_customer_build() }}") }}
{%- set changed_only = rebuilds_changed_customers() %}
select
    customer_id,
    birth_date,
    gender,
    is_loyalty_member,
    acquisition_channel,
    signup_date,
    country_code,
    region,
    city
from {{ for_customers(ref('stg_shop__customers'), changed_only) }} as customers
where not is_test_account
