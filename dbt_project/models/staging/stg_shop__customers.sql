-- One row per customer_id (each source's load keeps a key once; across sources the newest export wins). Codes normalised;
-- impossible dates nulled and flagged;
-- test/internal accounts flagged (kept here, excluded from features). Phone and consents are only
-- read by the audience exports (orchestration/defs/audiences), never by features or marts.
with loaded as (
    {{ dedupe(source('raw', 'customers'), 'customer_id', newest_export_first(), 'customers') }}
),

cleaned as (
    select
        customer_id,
        trim(first_name) as first_name,
        trim(last_name) as last_name,
        {{ normalise_code('email') }} as email,
        birth_date as raw_birth_date,
        signup_date as raw_signup_date,
        case {{ normalise_code('gender') }}
            when 'f' then 'female'
            when 'm' then 'male'
            when 'x' then 'other'
            else 'unknown'
        end as gender,
        upper(trim(country_code)) as country_code,
        {{ normalise_code('region') }} as region,
        trim(city) as city,
        {{ normalise_code('acquisition_channel') }} as acquisition_channel,
        coalesce(is_loyalty_member, false) as is_loyalty_member,
        nullif(trim(phone), '') as phone,
        -- unknown consent is no consent: only an explicit yes lets a customer into an audience
        coalesce(email_consent, false) as email_consent,
        coalesce(sms_consent, false) as sms_consent,
        coalesce(ads_consent, false) as ads_consent,
        {{ is_test_account('email', 'first_name') }} as is_test_account
    from loaded
)

select
    customer_id,
    first_name,
    last_name,
    email,
    case
        when raw_birth_date < {{ date_var('min_birth_date') }} then null
        when raw_birth_date > {{ as_of_date() }} then null
        else raw_birth_date
    end as birth_date,
    (raw_birth_date < {{ date_var('min_birth_date') }} or raw_birth_date > {{ as_of_date() }}) is true
        as has_invalid_birth_date,
    case when raw_signup_date > {{ as_of_date() }} then null else raw_signup_date end as signup_date,
    (raw_signup_date > {{ as_of_date() }}) is true as has_future_signup_date,
    gender,
    country_code,
    region,
    city,
    acquisition_channel,
    is_loyalty_member,
    phone,
    email_consent,
    sms_consent,
    ads_consent,
    is_test_account
from cleaned
