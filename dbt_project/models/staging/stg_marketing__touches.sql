-- One row per touch_id (each source's load keeps a key once; across sources the newest export wins), channel normalised.
{{ config(materialized=staging_materialization('marketing_touches'), unique_key='touch_id',
          incremental_strategy='delete+insert',
          post_hook="{{ record_staging_build('marketing_touches') }}") }}
with loaded as (
    {{ dedupe(rows_to_stage(source('raw', 'marketing_touches'), 'touch_id'), 'touch_id',
              newest_export_first(), 'marketing_touches') }}
)

select
    touch_id,
    customer_id,
    {{ normalise_code('channel') }} as channel,
    sent_at,
    coalesce(opened, false) as opened,
    coalesce(clicked, false) as clicked,
    coalesce(converted, false) as converted
from loaded
