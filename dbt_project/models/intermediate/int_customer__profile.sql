-- Demographics and geography of real (non-test) customers.
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
from {{ ref('stg_shop__customers') }}
where not is_test_account
