-- For every customer who bought something, category shares (of units) add up to 1.
{%- set shares = [] %}
{%- if execute %}
    {%- for column in adapter.get_columns_in_relation(ref('customer_features_wide')) %}
        {%- if column.name.startswith('share_') %}{% do shares.append(column.name) %}{% endif %}
    {%- endfor %}
{%- endif %}
select customer_id
from {{ ref('customer_features_wide') }}
where categories_bought > 0
  and abs(({{ shares | join(' + ') if shares else '1' }}) - 1) > 1e-6
