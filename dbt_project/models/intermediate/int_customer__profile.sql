-- depends_on: {{ customer_build_inputs() }}
-- Demographics and geography of real (non-test) customers.
{{ config(materialized=customer_materialization(), incremental_strategy='changed_customers',
          on_schema_change='sync_all_columns',
          post_hook="{{ record_customer_build() }}") }}
{%- set changed_only = rebuilds_changed_customers() %}
select
    customer_id,
    case when birth_date is not null
        then cast(floor({{ dbt.datediff('birth_date', as_of_date(), 'day') }} / 365.25) as integer)
    end as age_years,
    gender,
    is_loyalty_member,
    acquisition_channel,
    signup_date,
    country_code,
    region,
    city
from {{ for_customers(ref('stg_shop__customers'), changed_only) }} as customers
where not is_test_account
