-- For every customer who bought something, category shares (of units) add up to 1.
select customer_id
from {{ ref('customer_features') }}
where categories_bought > 0
  and abs(({% for c in var('categories') %}share_{{ c }}{{ ' + ' if not loop.last }}{% endfor %}) - 1) > 1e-6
