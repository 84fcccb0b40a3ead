-- One row per product_id (each source's load keeps a key once; across sources the newest export wins), category normalised,
-- price rank within its category (0 = cheapest, 1 = dearest) for price-sensitivity features.
with loaded as (
    {{ dedupe(source('raw', 'products'), 'product_id', newest_export_first(), 'products') }}
),

cleaned as (
    select
        product_id,
        trim(product_name) as product_name,
        {{ normalise_code('category') }} as category,
        {{ normalise_code('subcategory') }} as subcategory,
        trim(brand) as brand,
        cast(price as double) as price,
        coalesce(is_private_label, false) as is_private_label
    from loaded
)

select
    *,
    percent_rank() over (partition by category order by price) as price_rank_in_category
from cleaned
