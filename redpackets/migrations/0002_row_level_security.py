from django.db import migrations

from retail.rls import EnableRowLevelSecurity, PostgresSQL, append_only, same_brand_fk

TABLES = [
    "redpackets_settings",
    "redpackets_account",
    "redpackets_transaction",
    "redpackets_entry",
    "redpackets_topup",
    "redpackets_redpacket",
    "redpackets_packetrecipient",
    "redpackets_packetshare",
    "redpackets_payoutaccount",
    "redpackets_withdrawal",
    "redpackets_event",
    "redpackets_reconciliation",
]

# Entries are written by one INSERT per ledger transaction; the statement is refused unless each
# transaction's new entries have at least two legs and sum to zero (the transition table holds
# exactly the inserted rows, so row-level security does not hide any of them).
BALANCED = PostgresSQL(
    [
        "CREATE OR REPLACE FUNCTION redpackets_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "DECLARE bad bigint; "
        "BEGIN "
        "SELECT transaction_id INTO bad FROM new_rows GROUP BY transaction_id "
        "HAVING sum(amount_fen) <> 0 OR count(*) < 2 LIMIT 1; "
        "IF bad IS NOT NULL THEN RAISE EXCEPTION 'ledger transaction does not balance (transaction %%)', bad "
        "USING ERRCODE = 'check_violation'; END IF; "
        "RETURN NULL; END $$",
        "CREATE TRIGGER redpackets_entry_balanced AFTER INSERT ON redpackets_entry "
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION redpackets_entry_balanced()",
    ],
    [
        "DROP TRIGGER IF EXISTS redpackets_entry_balanced ON redpackets_entry",
        "DROP FUNCTION IF EXISTS redpackets_entry_balanced()",
    ],
)


class Migration(migrations.Migration):
    dependencies = [("redpackets", "0001_initial")]

    operations = [
        *[EnableRowLevelSecurity(t) for t in TABLES],
        same_brand_fk("redpackets_account", "staff_id", "retail_staff"),
        same_brand_fk("redpackets_account", "packet_id", "redpackets_redpacket"),
        same_brand_fk("redpackets_transaction", "packet_id", "redpackets_redpacket"),
        same_brand_fk("redpackets_transaction", "share_id", "redpackets_packetshare"),
        same_brand_fk("redpackets_transaction", "withdrawal_id", "redpackets_withdrawal"),
        same_brand_fk("redpackets_transaction", "topup_id", "redpackets_topup"),
        same_brand_fk("redpackets_transaction", "corrects_id", "redpackets_transaction"),
        same_brand_fk("redpackets_entry", "transaction_id", "redpackets_transaction"),
        same_brand_fk("redpackets_entry", "account_id", "redpackets_account"),
        same_brand_fk("redpackets_topup", "created_by_id", "retail_staff"),
        same_brand_fk("redpackets_redpacket", "sender_id", "retail_staff"),
        same_brand_fk("redpackets_redpacket", "store_id", "retail_store"),
        same_brand_fk("redpackets_packetrecipient", "packet_id", "redpackets_redpacket"),
        same_brand_fk("redpackets_packetrecipient", "staff_id", "retail_staff"),
        same_brand_fk("redpackets_packetshare", "packet_id", "redpackets_redpacket"),
        same_brand_fk("redpackets_packetshare", "staff_id", "retail_staff"),
        same_brand_fk("redpackets_payoutaccount", "staff_id", "retail_staff"),
        same_brand_fk("redpackets_withdrawal", "staff_id", "retail_staff"),
        same_brand_fk("redpackets_withdrawal", "payout_account_id", "redpackets_payoutaccount"),
        same_brand_fk("redpackets_event", "packet_id", "redpackets_redpacket"),
        same_brand_fk("redpackets_event", "withdrawal_id", "redpackets_withdrawal"),
        append_only("redpackets_transaction"),
        append_only("redpackets_entry"),
        append_only("redpackets_event"),
        BALANCED,
    ]
