-- The persistent holdout: a fixed share of customers, chosen by a hash of their id and a salt,
-- kept out of campaigns and audiences so each segment's campaigns can be measured against them.
select
    customer_id,
    {{ holdout_bucket('customer_id') }} as holdout_bucket,
    {{ holdout_bucket('customer_id') }} < {{ var('holdout_share') }} as is_holdout
from {{ ref('customer_features') }}
