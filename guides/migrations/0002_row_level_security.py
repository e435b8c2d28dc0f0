from django.db import migrations

from retail.rls import EnableRowLevelSecurity, PostgresSQL, append_only, same_brand_fk

TABLES = [
    "guides_attributionrule",
    "guides_commissionrule",
    "guides_commissionsettings",
    "guides_attribution",
    "guides_settlementperiod",
    "guides_statement",
    "guides_commissionentry",
    "guides_reattribution",
    "guides_notification",
    "guides_event",
]

# A commission entry is written once; later only its statement (set once, when settled) and the
# time its guide was told may be filled in. Amounts, keys and guides never change; nothing is deleted.
ENTRY_WRITE_ONCE = PostgresSQL(
    [
        "CREATE OR REPLACE FUNCTION guides_commissionentry_write_once() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        "IF TG_OP = 'DELETE' THEN RAISE EXCEPTION 'guides_commissionentry is append-only'; END IF; "
        "IF NEW.amount_fen <> OLD.amount_fen OR NEW.key <> OLD.key OR NEW.guide_id <> OLD.guide_id "
        "OR NEW.kind <> OLD.kind OR NEW.brand_id <> OLD.brand_id "
        "OR NEW.order_id IS DISTINCT FROM OLD.order_id OR NEW.occurred_at <> OLD.occurred_at "
        "OR (OLD.statement_id IS NOT NULL AND NEW.statement_id IS DISTINCT FROM OLD.statement_id) "
        "THEN RAISE EXCEPTION 'guides_commissionentry: only the statement (once) and notified_at may be set'; "
        "END IF; RETURN NEW; END $$",
        "CREATE TRIGGER guides_commissionentry_write_once BEFORE UPDATE OR DELETE ON guides_commissionentry "
        "FOR EACH ROW EXECUTE FUNCTION guides_commissionentry_write_once()",
    ],
    [
        "DROP TRIGGER IF EXISTS guides_commissionentry_write_once ON guides_commissionentry",
        "DROP FUNCTION IF EXISTS guides_commissionentry_write_once()",
    ],
)

FKS = [
    ("guides_attributionrule", "created_by_id", "retail_staff"),
    ("guides_commissionrule", "created_by_id", "retail_staff"),
    ("guides_commissionrule", "category_id", "cloudstore_category"),
    ("guides_commissionrule", "sku_id", "cloudstore_sku"),
    ("guides_attribution", "order_id", "cloudstore_order"),
    ("guides_attribution", "member_id", "members_member"),
    ("guides_attribution", "guide_id", "retail_staff"),
    ("guides_attribution", "store_id", "retail_store"),
    ("guides_attribution", "rule_id", "guides_attributionrule"),
    ("guides_settlementperiod", "approved_by_id", "retail_staff"),
    ("guides_statement", "period_id", "guides_settlementperiod"),
    ("guides_statement", "guide_id", "retail_staff"),
    ("guides_statement", "held_by_id", "retail_staff"),
    ("guides_statement", "packet_id", "redpackets_redpacket"),
    ("guides_commissionentry", "guide_id", "retail_staff"),
    ("guides_commissionentry", "order_id", "cloudstore_order"),
    ("guides_commissionentry", "member_id", "members_member"),
    ("guides_commissionentry", "statement_id", "guides_statement"),
    ("guides_reattribution", "requested_by_id", "retail_staff"),
    ("guides_notification", "staff_id", "retail_staff"),
]


class Migration(migrations.Migration):
    dependencies = [("guides", "0001_initial")]

    operations = [
        *[EnableRowLevelSecurity(t) for t in TABLES],
        *[same_brand_fk(t, c, r) for t, c, r in FKS],
        ENTRY_WRITE_ONCE,
        append_only("guides_event"),
    ]
