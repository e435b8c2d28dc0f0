-- Seed of the commission benchmark (bench/commission.py seed): one brand, its stores, guides,
-- members, catalogue, share-link touches, paid orders with their lines, and the commission rules.
--
-- Run by bench/commission.py inside one transaction with row-level security bypassed the audited
-- way (retail.tenancy.rls_bypass sets app.bypass_rls); the deferred same-brand foreign keys are
-- checked when it commits. Set-based: INSERT ... SELECT over generate_series, no row by row.
-- Before running, bench/commission.py replaces @BRAND@ (the brand id), @NOW@ (an ISO timestamp),
-- @STORES@, @GUIDES@, @MEMBERS@, @SKUS@, @CATEGORIES@ and @ORDERS@ (every order id, paid and
-- cancelled: id % 101 = 0 is a cancelled, never paid order). Ids are explicit (the database is
-- new), so every fact below follows from the formulas; the identity sequences are moved past them
-- at the end. Guide g (staff id g, user id g) works in store ((g - 1) % STORES) + 1; the brand
-- admin is staff GUIDES + 1. Member m's exclusive guide is ((m - 1) % GUIDES) + 1.
-- Lines that start with "-- step:" split the file; each step is timed on its own.

-- step: helpers
-- A well-mixed non-negative pseudo-random integer for (id, salt): every choice below uses it.
CREATE FUNCTION pg_temp.h(bigint, bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS
$$ SELECT (hashint8($1 * 64 + $2)::bigint & 2147483647) $$;

-- step: stores
INSERT INTO retail_store (id, brand_id, code, name, address, latitude, longitude, geofence_radius_m,
                          timezone, opens_at, closes_at, status, created_at)
SELECT s, @BRAND@, 'S' || lpad(s::text, 4, '0'), '门店 ' || s, '', NULL, NULL, 300,
       'Asia/Shanghai', '10:00', '22:00', 'open', '@NOW@'::timestamptz - interval '3 years'
FROM generate_series(1, @STORES@) s;

-- step: users and staff
INSERT INTO retail_user (id, password, last_login, is_superuser, username, first_name, last_name, email,
                         is_staff, is_active, date_joined, phone, display_name, language)
SELECT u, '!', NULL, false, 'bc' || lpad(u::text, 6, '0'), '', '', '', false, true,
       '@NOW@'::timestamptz - interval '2 years', '138' || lpad(u::text, 8, '0'), '', ''
FROM generate_series(1, @GUIDES@ + 1) u;

INSERT INTO retail_staff (id, brand_id, user_id, name, employee_no, role, status, kind, hired_on, left_on, created_at)
SELECT u, @BRAND@, u, CASE WHEN u > @GUIDES@ THEN '品牌管理员' ELSE '导购 ' || u END,
       CASE WHEN u > @GUIDES@ THEN 'A00001' ELSE 'G' || lpad(u::text, 5, '0') END,
       CASE WHEN u > @GUIDES@ THEN 'brand_admin' ELSE 'guide' END, 'active', 'person', NULL, NULL,
       '@NOW@'::timestamptz - interval '2 years'
FROM generate_series(1, @GUIDES@ + 1) u;

INSERT INTO retail_staffstore (brand_id, staff_id, store_id)
SELECT @BRAND@, g, ((g - 1) % @STORES@) + 1 FROM generate_series(1, @GUIDES@ + 1) g;

-- step: catalogue
INSERT INTO cloudstore_category (id, brand_id, name, sort)
SELECT c, @BRAND@, '品类 ' || c, c FROM generate_series(1, @CATEGORIES@) c;

-- Two SKUs per product; product p is in category ((p - 1) % CATEGORIES) + 1.
INSERT INTO cloudstore_product (id, brand_id, name, description, status, created_at, category_id)
SELECT p, @BRAND@, '商品 ' || p, '', 'active', '@NOW@'::timestamptz - interval '2 years',
       ((p - 1) % @CATEGORIES@) + 1
FROM generate_series(1, @SKUS@ / 2) p;

-- List prices from ¥19.90 to ¥314.90.
INSERT INTO cloudstore_sku (id, brand_id, product_id, code, spec, barcode, list_price_fen, active, created_at)
SELECT k, @BRAND@, (k + 1) / 2, 'BC' || lpad(k::text, 5, '0'), CASE k % 2 WHEN 1 THEN '标准' ELSE '大号' END,
       '', 1990 + ((k * 7919) % 60) * 500, true, '@NOW@'::timestamptz - interval '2 years'
FROM generate_series(1, @SKUS@) k;

-- step: members
INSERT INTO members_member (id, brand_id, name, gender, birthday, status, points_balance, qualifying_spend_fen,
                            marketing_consent, joined_at, last_purchase_at, erased_at, guide_id, join_guide_id,
                            join_store_id, merged_into_id, tier_id)
SELECT m, @BRAND@, '', '', NULL, 'active', 0, 0, false, '@NOW@'::timestamptz - interval '400 days', NULL, NULL,
       ((m - 1) % @GUIDES@) + 1, ((m - 1) % @GUIDES@) + 1, ((((m - 1) % @GUIDES@)) % @STORES@) + 1, NULL, NULL
FROM generate_series(1, @MEMBERS@) m;

-- A phone identity for every third member; every 100th member's phone is a guide's own phone
-- (guide m / 100): their purchases are staff purchases, which earn no commission.
INSERT INTO members_memberidentity (brand_id, member_id, kind, value, verified, created_at)
SELECT @BRAND@, m, 'phone',
       CASE WHEN m % 100 = 0 THEN '138' || lpad((m / 100)::text, 8, '0') ELSE '139' || lpad(m::text, 8, '0') END,
       true, '@NOW@'::timestamptz - interval '400 days'
FROM generate_series(1, @MEMBERS@) m
WHERE (m % 100 = 0 AND m / 100 <= @GUIDES@) OR (m % 100 <> 0 AND m % 3 = 0);

-- One store-page share link per guide (link id = guide id).
INSERT INTO cloudstore_sharelink (id, brand_id, code, kind, target, opens, created_at, campaign_id, guide_id,
                                  product_id, store_id)
SELECT g, @BRAND@, 'L' || lpad(g::text, 6, '0'), 'store', 'store', 0, '@NOW@'::timestamptz - interval '2 years',
       NULL, g, NULL, ((g - 1) % @STORES@) + 1
FROM generate_series(1, @GUIDES@) g;

-- step: order facts (temporary)
-- Channel: half at the till (POS), 35% cloud store, 15% online flagship. Paid times are spread
-- evenly over the 365 days before NOW (ids in time order, the last one 10 minutes before NOW).
CREATE TEMP TABLE bench_o ON COMMIT DROP AS
SELECT o,
       (o % 101 = 0) AS cancelled,
       CASE WHEN pg_temp.h(o, 1) % 100 < 50 THEN 'pos'
            WHEN pg_temp.h(o, 1) % 100 < 85 THEN 'cloud_store' ELSE 'flagship' END AS channel,
       '@NOW@'::timestamptz - interval '365 days'
           + make_interval(secs => (o - 1) * ((365 * 86400 - 600)::float8 / @ORDERS@)) AS paid_at,
       pg_temp.h(o, 2) % 100 AS walk_in,     -- < 5: a POS order without a member
       pg_temp.h(o, 3) % @MEMBERS@ + 1 AS member,
       pg_temp.h(o, 4) % 100 AS touched,     -- < 20: an online order opened through a share link
       pg_temp.h(o, 5) % 3 AS own_link,      -- 0: the share link is the member's own guide's
       pg_temp.h(o, 6) AS r6,
       pg_temp.h(o, 7) % 30 AS touch_days,   -- the share link was opened 0-29 days (+1 hour) before
       pg_temp.h(o, 8) % 10 AS home_store,   -- < 7: a POS order in the member's guide's store
       pg_temp.h(o, 9) % @STORES@ + 1 AS any_store,
       pg_temp.h(o, 10) AS r10,              -- % 10 < 6: a guide of the store served at the till
       pg_temp.h(o, 11) % 10 AS done,        -- < 3: still 'paid', else 'completed'
       pg_temp.h(o, 12) % 100 AS refund,     -- < 3: 30% refunded (amount only); 3-4: line 1 returned
       1 + pg_temp.h(o, 13) % 3 AS n_lines
FROM generate_series(1, @ORDERS@) o;

CREATE TEMP TABLE bench_f ON COMMIT DROP AS
SELECT o, cancelled, channel, paid_at, n_lines, done, refund,
       m AS member_id,
       CASE WHEN m IS NULL THEN NULL ELSE ((m - 1) % @GUIDES@) + 1 END AS exclusive_guide,
       CASE WHEN channel = 'flagship' THEN NULL
            WHEN channel = 'cloud_store' THEN ((((m - 1) % @GUIDES@)) % @STORES@) + 1
            WHEN m IS NOT NULL AND home_store < 7 THEN ((((m - 1) % @GUIDES@)) % @STORES@) + 1
            ELSE any_store END AS store_id,
       (channel <> 'pos' AND NOT cancelled AND touched < 20) AS has_touch,
       CASE WHEN channel = 'pos' OR cancelled OR touched >= 20 THEN NULL
            WHEN own_link = 0 THEN ((m - 1) % @GUIDES@) + 1
            ELSE ((((m - 1) % @GUIDES@) + 1 + r6 % (@GUIDES@ - 1)) % @GUIDES@) + 1 END AS share_guide,
       touch_days, r10
FROM (SELECT *, CASE WHEN channel = 'pos' AND walk_in < 5 THEN NULL ELSE member END AS m FROM bench_o) x;

-- step: order lines (temporary)
-- 1-3 lines, a quarter of them 2 units, a fifth 10% off.
CREATE TEMP TABLE bench_l ON COMMIT DROP AS
SELECT f.o, k, sku, qty, price,
       CASE WHEN pg_temp.h(f.o, 40 + k) % 5 = 0 THEN price * qty / 10 ELSE 0 END AS discount
FROM bench_f f
CROSS JOIN LATERAL generate_series(1, f.n_lines) k
CROSS JOIN LATERAL (SELECT pg_temp.h(f.o, 20 + k) % @SKUS@ + 1 AS sku,
                           1 + (pg_temp.h(f.o, 30 + k) % 4 = 0)::int AS qty) s
CROSS JOIN LATERAL (SELECT list_price_fen AS price FROM cloudstore_sku WHERE id = s.sku) p;

CREATE TEMP TABLE bench_t ON COMMIT DROP AS
SELECT f.*, t.subtotal, t.discount, t.line1,
       CASE WHEN f.channel = 'cloud_store' AND t.subtotal - t.discount < 19900 THEN 800 ELSE 0 END AS shipping
FROM bench_f f
JOIN (SELECT o, sum(price * qty) AS subtotal, sum(discount) AS discount,
             sum(price * qty - discount) FILTER (WHERE k = 1) AS line1
      FROM bench_l GROUP BY o) t USING (o);

-- step: touches
-- Touch id = order id. The share link is the member's own guide's one time in three, else another
-- guide's (whose touch records the member's exclusive guide).
INSERT INTO cloudstore_touch (id, brand_id, link_id, guide_id, member_id, visitor, exclusive_guide_id, created_at)
SELECT o, @BRAND@, share_guide, share_guide, member_id, '',
       CASE WHEN share_guide <> exclusive_guide THEN exclusive_guide END,
       paid_at - make_interval(days => touch_days::int, hours => 1)
FROM bench_t WHERE has_touch;

-- step: orders
INSERT INTO cloudstore_order (id, brand_id, number, channel, external_id, request_hash, fulfilment, status,
                              subtotal_fen, discount_fen, shipping_fen, total_fen, paid_fen, refunded_fen,
                              points_earned, points_reversed, pickup_code, recipient, phone, address, note,
                              checkout_key, reserved_until, created_at, paid_at, closed_at, coupon_id,
                              exclusive_guide_id, member_id, served_by_id, share_guide_id, store_id, touch_id)
SELECT o, @BRAND@, 'BC' || lpad(o::text, 10, '0'), channel,
       CASE WHEN channel = 'flagship' THEN 'FS' || o ELSE '' END, '',
       CASE channel WHEN 'pos' THEN 'in_store' WHEN 'flagship' THEN 'online' ELSE 'ship' END,
       CASE WHEN cancelled THEN 'cancelled'
            WHEN refund BETWEEN 3 AND 4 AND n_lines = 1 THEN 'refunded'
            WHEN done < 3 THEN 'paid' ELSE 'completed' END,
       subtotal, discount, shipping, subtotal - discount + shipping,
       CASE WHEN cancelled THEN 0 ELSE subtotal - discount + shipping END,
       CASE WHEN cancelled THEN 0
            WHEN refund < 3 THEN (subtotal - discount + shipping) * 3 / 10
            WHEN refund BETWEEN 3 AND 4 THEN line1 + CASE WHEN n_lines = 1 THEN shipping ELSE 0 END
            ELSE 0 END,
       0, 0, '', '', '', '', '', '', NULL, paid_at - interval '2 minutes',
       CASE WHEN cancelled THEN NULL ELSE paid_at END,
       CASE WHEN cancelled THEN paid_at + interval '28 minutes' END, NULL,
       exclusive_guide, member_id,
       CASE WHEN channel = 'pos' AND r10 % 10 < 6
            THEN ((store_id - 1) + @STORES@ * ((r10 / 10) % (@GUIDES@ / @STORES@))) + 1 END,
       share_guide, store_id,
       CASE WHEN has_touch THEN o END
FROM bench_t;

-- step: order lines
INSERT INTO cloudstore_orderline (brand_id, order_id, sku_id, name, quantity, unit_price_fen, discount_fen,
                                  refunded_quantity, refunded_fen)
SELECT @BRAND@, l.o, l.sku, '商品 ' || ((l.sku + 1) / 2), l.qty, l.price, l.discount,
       CASE WHEN t.refund BETWEEN 3 AND 4 AND NOT t.cancelled AND l.k = 1 THEN l.qty ELSE 0 END,
       CASE WHEN t.refund BETWEEN 3 AND 4 AND NOT t.cancelled AND l.k = 1 THEN l.price * l.qty - l.discount
            ELSE 0 END
FROM bench_l l JOIN bench_t t USING (o)
ORDER BY l.o, l.k;

-- step: rules
-- Attribution rules: version 1 since 2000 (the defaults); version 2 from 150 days ago: share links
-- count for 14 days, orders under ¥20 earn nothing, the online flagship credits the exclusive
-- guide only.
INSERT INTO guides_attributionrule (brand_id, version, effective_from, cloud_store, flagship, pos,
                                    touch_window_days, dual_credit_store, exclude_staff_purchases,
                                    min_order_fen, note, created_at, created_by_id)
VALUES (@BRAND@, 1, '2000-01-01T00:00:00Z', 'touch>exclusive', 'exclusive>touch', 'served>exclusive',
        30, true, true, 0, 'bench v1', '@NOW@'::timestamptz - interval '2 years', NULL),
       (@BRAND@, 2, '@NOW@'::timestamptz - interval '150 days', 'touch>exclusive', 'exclusive',
        'served>exclusive', 14, true, true, 2000, 'bench v2', '@NOW@'::timestamptz - interval '150 days', NULL);

-- Commission rules: 1% on everything, 1.5% in the online flagship, a percentage per category (3.5%
-- to 8%, below); category 3's 4% ended 180 days ago and became 7%; category 5 pays 8% at the till; SKU 7
-- pays ¥15 per unit capped at ¥25 a line; SKU 8 pays ¥8 per unit in the cloud store.
INSERT INTO guides_commissionrule (brand_id, name, kind, rate_bp, fixed_fen, cap_fen, channel, effective_from,
                                   effective_to, created_at, category_id, created_by_id, sku_id)
SELECT @BRAND@, name, kind, rate, fixed, cap, channel, eff_from, eff_to, '@NOW@'::timestamptz - interval '2 years',
       category, NULL, sku
FROM (VALUES
        ('全场 1%', 'percent', 100, 0, NULL::bigint, '', '2000-01-01T00:00:00Z'::timestamptz, NULL::timestamptz,
         NULL::bigint, NULL::bigint),
        ('旗舰店 1.5%', 'percent', 150, 0, NULL, 'flagship', '2000-01-01T00:00:00Z', NULL, NULL, NULL),
        ('品类 3 旧 4%', 'percent', 400, 0, NULL, '', '2000-01-01T00:00:00Z',
         '@NOW@'::timestamptz - interval '180 days', 3, NULL),
        ('品类 3 新 7%', 'percent', 700, 0, NULL, '', '@NOW@'::timestamptz - interval '180 days', NULL, 3, NULL),
        ('品类 5 门店 8%', 'percent', 800, 0, NULL, 'pos', '2000-01-01T00:00:00Z', NULL, 5, NULL),
        ('SKU 7 每件 ¥15 封顶 ¥25', 'fixed', 0, 1500, 2500, '', '2000-01-01T00:00:00Z', NULL, NULL, 7),
        ('SKU 8 云店每件 ¥8', 'fixed', 0, 800, NULL, 'cloud_store', '2000-01-01T00:00:00Z', NULL, NULL, 8)
     ) v(name, kind, rate, fixed, cap, channel, eff_from, eff_to, category, sku);

-- The other categories: 3% + 0.5% per category number (3.5% to 8%).
INSERT INTO guides_commissionrule (brand_id, name, kind, rate_bp, fixed_fen, cap_fen, channel, effective_from,
                                   effective_to, created_at, category_id, created_by_id, sku_id)
SELECT @BRAND@, '品类 ' || c || ' ' || (250 + 50 * c) || 'bp', 'percent', 250 + 50 * c, 0, NULL, '',
       '2000-01-01T00:00:00Z', NULL, '@NOW@'::timestamptz - interval '2 years', c, NULL, NULL
FROM generate_series(1, @CATEGORIES@) c WHERE c <> 3;
