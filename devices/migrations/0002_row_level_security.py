from django.db import migrations

from retail.rls import EnableRowLevelSecurity, same_brand_fk

# A device reaches its own rows before its brand is known: by its public id (hello frame), by the
# hash of a pairing code, or by the hash of a websocket ticket; each setting lets exactly that row
# be read (retail.tenancy.SETTING_DEVICE / SETTING_PAIRING / SETTING_TICKET).
DEVICE_MATCH = "uid = nullif(current_setting('app.device_uid', true), '')::uuid"
PAIRING_MATCH = "code_hash = nullif(current_setting('app.pairing_code_hash', true), '')"
TICKET_MATCH = "token_hash = nullif(current_setting('app.device_ticket_hash', true), '')"


class Migration(migrations.Migration):
    dependencies = [("devices", "0001_initial")]

    operations = [
        EnableRowLevelSecurity("devices_device", also_visible=DEVICE_MATCH),
        EnableRowLevelSecurity("devices_pairingcode", also_visible=PAIRING_MATCH),
        EnableRowLevelSecurity("devices_deviceticket", also_visible=TICKET_MATCH),
        EnableRowLevelSecurity("devices_deviceevent"),
        EnableRowLevelSecurity("devices_devicecommand"),
        same_brand_fk("devices_device", "store_id", "retail_store"),
        same_brand_fk("devices_device", "created_by_id", "retail_staff"),
        same_brand_fk("devices_pairingcode", "device_id", "devices_device"),
        same_brand_fk("devices_pairingcode", "created_by_id", "retail_staff"),
        same_brand_fk("devices_deviceticket", "device_id", "devices_device"),
        same_brand_fk("devices_deviceevent", "device_id", "devices_device"),
        same_brand_fk("devices_devicecommand", "device_id", "devices_device"),
        same_brand_fk("devices_devicecommand", "created_by_id", "retail_staff"),
    ]
