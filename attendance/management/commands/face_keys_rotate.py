"""Re-encrypt every face encoding with the newest key of FACE_ENCRYPTION_KEYS (docs/attendance.md)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from attendance import crypto, gallery
from attendance.models import FaceEncoding
from retail.tenancy import rls_bypass


class Command(BaseCommand):
    help = "Re-encrypt every face encoding with the newest key in FACE_ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        current = crypto.current_key_id()
        done = 0
        with rls_bypass(reason="face key rotation: re-encrypt every encoding with the newest key"):
            for row in FaceEncoding.unscoped.exclude(key_id=current).select_for_update().iterator():
                encoding = crypto.decrypt(row.ciphertext, row.key_id)
                row.ciphertext, row.key_id = crypto.encrypt(encoding)
                FaceEncoding.unscoped.filter(pk=row.pk).update(ciphertext=row.ciphertext, key_id=row.key_id)
                done += 1
        gallery.forget()
        self.stdout.write(f"{done} encodings re-encrypted with key {current}")
