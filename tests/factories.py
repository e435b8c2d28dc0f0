"""Shared factories. Brand-owned rows are created inside their brand's scope, so on
PostgreSQL they pass the row-level security check like any other write."""

import datetime

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from retail.models import Brand, Staff, StaffStore, Store, User
from retail.tenancy import brand_scope

PASSWORD = "Str0ng-pass!"


class BrandOwnedFactory(DjangoModelFactory):
    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        brand = kwargs["brand"]
        with brand_scope(brand):
            return model_class.unscoped.create(*args, **kwargs)


class BrandFactory(DjangoModelFactory):
    class Meta:
        model = Brand

    name = factory.Sequence(lambda n: f"品牌{n}")
    slug = factory.Sequence(lambda n: f"brand-{n}")


class StoreFactory(BrandOwnedFactory):
    class Meta:
        model = Store

    brand = factory.SubFactory(BrandFactory)
    code = factory.Sequence(lambda n: f"S{n:04d}")
    name = factory.Sequence(lambda n: f"门店{n}")
    address = "上海市静安区南京西路1号"
    latitude = "31.229200"
    longitude = "121.448800"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    phone = factory.Sequence(lambda n: f"139{n:08d}")
    display_name = factory.Faker("name", locale="zh_CN")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class StaffFactory(BrandOwnedFactory):
    class Meta:
        model = Staff
        skip_postgeneration_save = True

    brand = factory.SubFactory(BrandFactory)
    user = factory.SubFactory(UserFactory)
    name = factory.Faker("name", locale="zh_CN")
    role = Staff.Role.GUIDE
    status = Staff.Status.ACTIVE

    @factory.post_generation
    def stores(obj, create, extracted, **kwargs):
        if not create or not extracted:
            return
        with brand_scope(obj.brand):
            for store in extracted:
                StaffStore.unscoped.create(brand=obj.brand, staff=obj, store=store)


class MemberFactory(BrandOwnedFactory):
    """A member with a verified phone identity."""

    class Meta:
        model = "members.Member"
        skip_postgeneration_save = True

    brand = factory.SubFactory(BrandFactory)
    name = factory.Faker("name", locale="zh_CN")

    @factory.post_generation
    def phone(obj, create, extracted, **kwargs):
        if not create:
            return
        from members.models import MemberIdentity

        number = extracted or f"137{obj.pk:08d}"
        with brand_scope(obj.brand):
            MemberIdentity.unscoped.create(
                brand=obj.brand, member=obj, kind="phone", value=number, verified=True
            )


class CategoryFactory(BrandOwnedFactory):
    class Meta:
        model = "cloudstore.Category"

    brand = factory.SubFactory(BrandFactory)
    name = factory.Sequence(lambda n: f"品类{n}")


class ProductFactory(BrandOwnedFactory):
    class Meta:
        model = "cloudstore.Product"

    brand = factory.SubFactory(BrandFactory)
    name = factory.Sequence(lambda n: f"精华液{n}号")
    category = None


class SkuFactory(BrandOwnedFactory):
    class Meta:
        model = "cloudstore.Sku"

    brand = factory.SubFactory(BrandFactory)
    product = factory.LazyAttribute(lambda o: ProductFactory(brand=o.brand))
    code = factory.Sequence(lambda n: f"SKU{n:05d}")
    spec = "50ml"
    list_price_fen = 29900


class InventoryFactory(BrandOwnedFactory):
    """A SKU listed at a store with stock (``on_hand``) and the brand's price unless ``price_fen``."""

    class Meta:
        model = "cloudstore.Inventory"

    brand = factory.SubFactory(BrandFactory)
    store = factory.LazyAttribute(lambda o: StoreFactory(brand=o.brand))
    sku = factory.LazyAttribute(lambda o: SkuFactory(brand=o.brand))
    on_hand = 10


class CampaignFactory(BrandOwnedFactory):
    class Meta:
        model = "cloudstore.Campaign"

    brand = factory.SubFactory(BrandFactory)
    name = factory.Sequence(lambda n: f"满减券{n}")
    kind = "amount_off"
    amount_off_fen = 2000
    threshold_fen = 10000
    starts_at = factory.LazyFunction(lambda: timezone.now() - datetime.timedelta(minutes=1))
    ends_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(days=30))
