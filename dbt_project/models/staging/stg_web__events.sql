-- One row per event_id (each source's load keeps a key once; across sources the newest export wins), event type and device normalised.
{{ config(materialized=staging_materialization('web_events'), unique_key='event_id',
          incremental_strategy='delete+insert',
          post_hook="{{ record_staging_build('web_events') }}") }}
with loaded as (
    {{ dedupe(rows_to_stage(source('raw', 'web_events'), 'event_id'), 'event_id',
              newest_export_first(), 'web_events') }}
)

select
    event_id,
    session_id,
    customer_id,
    event_ts,
    {{ normalise_code('event_type') }} as event_type,
    {{ normalise_code('device') }} as device
from loaded
