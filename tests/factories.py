"""Shared factories. Brand-owned rows are created inside their brand's scope, so on
PostgreSQL they pass the row-level security check like any other write."""

import factory
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
