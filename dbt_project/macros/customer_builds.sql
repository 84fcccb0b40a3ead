{#- The per-customer intermediate models, rebuilt only for the customers whose raw rows changed.

    On DuckDB these models are incremental tables whose build recomputes every customer with a raw row loaded
    since the model's last build (int_customers__changed, found once per build: their orders, order lines, web
    events, touches or customer row) from all of that customer's rows, deletes those customers' rows and inserts
    the new ones (strategy changed_customers). Each customer's rows depend on that customer's own rows only, so
    the result equals a full rebuild, as long as nothing else moved since that build: the same code and vars (the
    record's fingerprint, checked here), an as-of date no earlier than the record's (a later one also rebuilds the
    customers whose orders or dates it moves past a window's edge: macros/windows.sql), the same feature columns
    (the top categories, channels and devices a model's columns are named after, checked here: when they changed
    every customer is recomputed), and no raw row removed or product changed (checked by Dagster before dbt runs,
    which then forgets the record: orchestration/lib/customer_builds.py). Without a record that applies, every
    customer is rebuilt. Elsewhere (Spark) they are tables, rebuilt in full.

    A model rebuilds only the changed customers whose changes it reads: int_customers__changed says per customer
    which raw rows changed (changed_in: customers, orders (an order or one of its lines), web_events,
    marketing_touches), and a model's config changed_in lists those it reads besides the customer row, which
    every model follows. A day's touches and web events reach far more customers than its orders (a day at 1M
    customers: 195k customers changed, 42k of them in their orders), and the order models need not rebuild the
    others' orders (0.76M orders instead of 2.12M). A model that does not say follows every change.

    The checked orders and valid orders are per customer the same way. The checked order lines have no customer:
    they are rebuilt per order (config changed_key='order_id'), for the orders in int_orders__changed (every order
    of a customer whose customer row or orders changed, and the order of every raw row of a line with a new row: a
    line before its order, or moved to another order, is rebuilt too). The keys are never null: the loader
    quarantines a row without one.

    The record is a row per model in staging._incremental_builds (macros/incremental.sql), written by the
    model's post-hook in the model's own transaction. -#}

{% macro customer_materialization() -%}
    {{ return('incremental' if stages_incrementally() else 'table') }}
{%- endmacro %}

{#- The raw tables a customer's features are read from, and the key of each (every raw row of a key with a new
    row counts: a re-sent order may name another customer than its first version did). -#}
{% macro customer_raw_tables() -%}
    {{ return({'customers': 'customer_id', 'orders': 'order_id', 'order_items': 'order_item_id',
               'web_events': 'event_id', 'marketing_touches': 'touch_id'}) }}
{%- endmacro %}

{#- For a `-- depends_on:` comment in each such model: what it reads besides its own refs (the changed customers
    or orders, and the raw tables its record counts), which dbt must see when it parses the model, when they are
    not read. -#}
{% macro customer_build_inputs(changed='int_customers__changed') -%}
    {%- if model.resource_type == 'unit_test' -%}
        {{ return('') }}  {#- a unit test's inputs are its fixtures; these are read only in a build -#}
    {%- endif -%}
    {{ ref(changed) }}, {{ customer_raw_sources() }}
{%- endmacro %}

{#- What a model is rebuilt by: the model listing the changed keys, and the key (config changed_key). -#}
{% macro changed_key() -%}
    {{ return(config.get('changed_key') or 'customer_id') }}
{%- endmacro %}

{#- The model listing the changed keys of this model's key: customers, or orders (for the order lines). -#}
{% macro changed_relation() -%}
    {{ return(ref('int_orders__changed') if changed_key() == 'order_id' else ref('int_customers__changed')) }}
{%- endmacro %}

{#- The keys of `key` (by default the model's) this model rebuilds, as a subquery: the changed orders, or the
    customers changed in what the model reads (config changed_in; without it, every changed customer). -#}
{% macro changed_keys(key=none) -%}
    {%- if (key or changed_key()) == 'order_id' -%}
    select order_id from {{ ref('int_orders__changed') }}
    {%- else -%}
    {{ customers_changed_in(changed_in_kinds()) }}
    {%- endif -%}
{%- endmacro %}

{#- The model's config changed_in (none when unset), checked: a kind int_customers__changed does not have would
    silently never rebuild the customers changed there. An order line's change counts as its order's, so the kinds
    are the raw tables but order_items. -#}
{% macro changed_in_kinds() -%}
    {%- set kinds = config.get('changed_in') -%}
    {%- set known = customer_raw_tables().keys() | reject('equalto', 'order_items') | list -%}
    {%- for kind in kinds or [] if kind not in known -%}
        {{ exceptions.raise_compiler_error("changed_in names " ~ kind ~ ": it must be among " ~ known | join(", ")) }}
    {%- endfor -%}
    {{ return(kinds) }}
{%- endmacro %}

{#- The customers whose customer row or rows of the raw tables `kinds` (int_customers__changed's changed_in)
    changed; all changed customers when `kinds` is none. -#}
{% macro customers_changed_in(kinds=none) -%}
    select customer_id from {{ ref('int_customers__changed') }}
    {%- if kinds is not none %}
    where changed_in in ({% for kind in ['customers'] + kinds %}'{{ kind }}'{{ ', ' if not loop.last }}{% endfor %})
    {%- endif %}
{%- endmacro %}

{#- The raw tables the changed customers are found in and the records count. -#}
{% macro customer_raw_sources() -%}
    {%- for table in customer_raw_tables().keys() | list + ['products'] -%}
        {{ source('raw', table) }}{{ ', ' if not loop.last }}
    {%- endfor -%}
{%- endmacro %}

{#- Whether this model's last build can be brought up to date customer by customer: its record exists and was
    made with this model's code fingerprint (Dagster's var customer_fingerprints; dbt run by hand has none, and
    rebuilds every customer) and this build's as-of date or an earlier one. -#}
{% macro customer_record_applies() -%}
    {%- if not execute or model.resource_type == 'unit_test' or not is_incremental() -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set fingerprint = var('customer_fingerprints', {}).get(this.name, '') -%}
    {%- set found = run_query(
        "select count(*) from " ~ staging_builds_table() ~ " where model = '" ~ this.name ~ "' and code_fingerprint = '"
        ~ fingerprint ~ "' and as_of_date <= " ~ as_of_date()) -%}
    {{ return(fingerprint != '' and found.columns[0].values()[0] == 1) }}
{%- endmacro %}

{#- Whether only the changed customers are rebuilt: the record applies and the feature columns named after the
    values in `lists` (top_categories() and friends) are those of the last build. -#}
{% macro rebuilds_changed_customers(lists=[]) -%}
    {%- do changed_in_kinds() -%}  {#- checked on every build, the first included -#}
    {%- if not customer_record_applies() -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set found = run_query("select lists_key from " ~ staging_builds_table()
                              ~ " where model = '" ~ this.name ~ "'") -%}
    {{ return(found.columns[0].values()[0] == tojson(lists) and changed_customers_found_now()) }}
{%- endmacro %}

{#- Whether the list this model is rebuilt by (int_customers__changed, or int_orders__changed) was built by this
    dbt invocation (its marker row: key null, this invocation's id). A build of a few models that leaves it out (a
    subset selected in Dagster) cannot trust an older list, and rebuilds every customer. -#}
{% macro changed_customers_found_now() -%}
    {%- set found = run_query("select count(*) from " ~ changed_relation() ~ " where " ~ changed_key() ~ " is null "
                              ~ "and invocation_id = '" ~ invocation_id ~ "'") -%}
    {{ return(found.columns[0].values()[0] == 1) }}
{%- endmacro %}

{#- The earliest watermark of the per-customer models' records, as a SQL literal (none without a record): the
    customers changed since it are a superset of those changed since any one model's last build. A literal, not
    a subquery, so DuckDB skips the raw row groups loaded before it (0.03 s for a day at 1M customers). -#}
{% macro customers_changed_since() -%}
    {%- if not execute or not stages_incrementally() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set found = run_query("select cast(min(loaded_through) as varchar) from " ~ staging_builds_table()
                              ~ " where model in (" ~ customer_model_names() | join(', ') ~ ")") -%}
    {%- set since = found.columns[0].values()[0] -%}
    {{ return(none if since is none else "timestamp '" ~ since ~ "'") }}
{%- endmacro %}

{#- The earliest as-of date of the per-customer models' records, as a SQL date literal (none without a record or
    when it is this build's): the customers whose rows its move to this build's reaches are rebuilt too. -#}
{% macro customers_built_as_of() -%}
    {%- if not execute or not stages_incrementally() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set found = run_query("select cast(min(as_of_date) as varchar), cast(min(as_of_date) < " ~ as_of_date()
                              ~ " as varchar) from " ~ staging_builds_table() ~ " where model in ("
                              ~ customer_model_names() | join(', ') ~ ")") -%}
    {%- set built, earlier = found.columns[0].values()[0], found.columns[1].values()[0] -%}
    {{ return("date '" ~ built ~ "'" if earlier == 'true' else none) }}
{%- endmacro %}

{#- The per-customer models (incremental strategy changed_customers), each name quoted. -#}
{% macro customer_model_names() -%}
    {%- set models = [] -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model'
                                            and node.config.get('incremental_strategy') == 'changed_customers' -%}
        {%- do models.append("'" ~ node.name ~ "'") -%}
    {%- endfor -%}
    {{ return(models) }}
{%- endmacro %}

{#- The customers whose rows the as-of date's move from `built_as_of` to this build's changes, and where: an order
    dated past a window's edge between the two (as_of_boundaries()), or a birth or signup date that was in the
    future (staging nulls those). Every raw row counts, as for the keys loaded since. -#}
{% macro customers_reached_by_as_of(built_as_of) -%}
    {%- set boundaries = zip(as_of_boundaries(built_as_of), as_of_boundaries(as_of_date())) | list -%}
    {%- set order_date = 'cast(order_ts as date)' -%}
    select customer_id, 'orders' as changed_in from {{ source('raw', 'orders') }}
    where {% for before, now in boundaries -%}
        ({{ order_date }} > {{ before }} and {{ order_date }} <= {{ now }}){{ ' or ' if not loop.last }}
    {%- endfor %}
    union
    select customer_id, 'customers' from {{ source('raw', 'customers') }}
    where (birth_date > {{ built_as_of }} and birth_date <= {{ as_of_date() }})
       or (signup_date > {{ built_as_of }} and signup_date <= {{ as_of_date() }})
{%- endmacro %}

{#- The keys of `table` (customer_raw_tables()) with a raw row loaded after `since` (or written without _loaded_at). -#}
{% macro new_keys(table, since) -%}
    {%- set key = customer_raw_tables()[table] -%}
    select {{ key }} from {{ source('raw', table) }} where _loaded_at > {{ since }} or _loaded_at is null
{%- endmacro %}

{#- The customers with a raw row loaded after `since`, and the table it is in (changed_in; an order line's counts
    as its order's): every raw row of a key that has such a row, as a re-sent key's older row may name another
    customer. -#}
{% macro changed_customers(since) -%}
    select customer_id, 'customers' as changed_in from {{ source('raw', 'customers') }}
    where customer_id in ({{ new_keys('customers', since) }})
    union
    select customer_id, 'orders' from {{ source('raw', 'orders') }} where order_id in (
        {{ new_keys('orders', since) }}
        union
        select order_id from {{ source('raw', 'order_items') }}
        where order_item_id in ({{ new_keys('order_items', since) }}))
    union
    select customer_id, 'web_events' from {{ source('raw', 'web_events') }}
    where event_id in ({{ new_keys('web_events', since) }})
    union
    select customer_id, 'marketing_touches' from {{ source('raw', 'marketing_touches') }}
    where touch_id in ({{ new_keys('marketing_touches', since) }})
{%- endmacro %}

{#- The orders whose lines may have changed: every order of a customer whose customer row or orders changed (an
    order re-sent, quarantined or no longer an orphan) and the order of every raw row of a line with a new row (a
    line before its order, or moved from one order to another). -#}
{% macro changed_orders(since) -%}
    select order_id from {{ source('raw', 'orders') }}
    where customer_id in ({{ customers_changed_in(['orders']) }})
    union
    select order_id from {{ source('raw', 'order_items') }}
    where order_item_id in ({{ new_keys('order_items', since) }})
{%- endmacro %}

{#- `relation` (with a customer_id) as this build reads it: only the changed customers' rows when
    `changed_only` (rebuilds_changed_customers()), else all of it. -#}
{% macro for_customers(relation, changed_only) -%}
    {{ return(changed_rows(relation, changed_only, 'customer_id')) }}
{%- endmacro %}

{#- The same for a relation with an order_id: only the changed orders' rows (int_orders__changed). -#}
{% macro for_orders(relation, changed_only) -%}
    {{ return(changed_rows(relation, changed_only, 'order_id')) }}
{%- endmacro %}

{% macro changed_rows(relation, changed_only, key) -%}
    {%- if changed_only -%}
    (select * from {{ relation }} where {{ key }} in ({{ changed_keys(key) }}))
    {%- else -%}
    {{ relation }}
    {%- endif -%}
{%- endmacro %}

{#- Strategy changed_customers: the rebuilt customers' (or orders') rows replace theirs. A customer with no row any
    more (an order now quarantined, a test account) loses the old one: every rebuilt customer's rows are deleted,
    not only those the build produced. When the record does not apply the build holds every customer: all rows
    go. -#}
{% macro get_incremental_changed_customers_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    {%- set key = changed_key() -%}
    {%- if customer_record_applies() and changed_customers_found_now() %}
    delete from {{ target }} where {{ key }} in (
        select {{ key }} from {{ arg_dict['temp_relation'] }}
        union
        {{ changed_keys() }});
    {%- else %}
    delete from {{ target }};
    {%- endif %}
    insert into {{ target }} ({{ columns }}) select {{ columns }} from {{ arg_dict['temp_relation'] }}
{%- endmacro %}

{#- Post-hook: what this build saw (how far raw was loaded, how many raw rows, the as-of date, the code and the
    feature columns' values), in the model's transaction. raw_rows counts the customer_raw_tables() and products,
    as Dagster reconciles them (orchestration/lib/customer_builds.py). -#}
{% macro record_customer_build(lists=[]) -%}
    {%- if stages_incrementally() -%}
    {%- set tables = customer_raw_tables().keys() | list + ['products'] -%}
    delete from {{ staging_builds_table() }} where model = '{{ this.name }}';
    insert into {{ staging_builds_table() }}
        (model, raw_table, loaded_through, raw_rows, as_of_date, code_fingerprint, full_refresh, built_at, lists_key)
    select '{{ this.name }}', '{{ tables | join(", ") }}', max(loaded_at), sum(rows_), {{ as_of_date() }},
           '{{ var("customer_fingerprints", {}).get(this.name, "") }}', {{ not is_incremental() }}, now(),
           {{ text_literal(tojson(lists)) }}
    from (
        {%- for table in tables %}
        select max(_loaded_at) as loaded_at, count(*) as rows_ from {{ source('raw', table) }}
        {{- ' union all' if not loop.last }}
        {%- endfor %}
    ) as loaded
    {%- endif -%}
{%- endmacro %}
