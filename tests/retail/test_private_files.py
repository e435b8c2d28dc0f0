"""The private-files kernel: random names that keep only a safe extension, a storage with no URL,
and a system check that refuses a model whose private files would never expire."""

from __future__ import annotations

import re

import pytest
from django.db import models
from django.test.utils import isolate_apps

from retail import private_files
from retail.private_files import PrivateName, private_storage
from retail.tenancy import BrandOwned


def test_private_names_are_random_and_keep_only_a_plain_extension():
    name = PrivateName("chat-images")
    first, second = name(None, "会员 张三 13711112222.JPG"), name(None, "x.jpg")
    assert re.fullmatch(r"chat-images/\d{4}/\d{2}/[A-Za-z0-9_-]{32}\.jpg", first)
    assert first != second and "13711112222" not in first
    for odd in ("no-extension", "x.ph p", "../../etc/passwd", "a.verylongextension"):
        assert re.fullmatch(r"chat-images/\d{4}/\d{2}/[A-Za-z0-9_-]{32}", name(None, odd)), odd
    assert PrivateName("a") == PrivateName("/a/") and PrivateName("a") != PrivateName("b")


def test_the_private_storage_has_no_url(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path
    storage = private_storage()
    assert storage.location == str(tmp_path)
    with pytest.raises(ValueError):
        storage.url("member-jobs/x.csv")


@isolate_apps("retail")
def test_a_model_whose_private_files_never_expire_fails_the_check():
    class Leaky(BrandOwned):
        scan = models.FileField(storage=private_storage, upload_to=PrivateName("scans"))

        class Meta:
            app_label = "retail"

    class Kept(BrandOwned):
        scan = models.FileField(storage=private_storage, upload_to=PrivateName("scans"))
        files_expire_at = models.DateTimeField(null=True)

        class Meta:
            app_label = "retail"

    class Photo(models.Model):  # noqa: DJ008
        image = models.FileField(upload_to="products/")

        class Meta:
            app_label = "retail"

    assert [e.id for e in private_files.check_model(Leaky)] == ["retail.E002"]
    assert private_files.check_model(Kept) == [] and private_files.check_model(Photo) == []
    assert private_files.check_models() == []  # the project's own models
