"""Catalogue API: products and SKUs."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from cloudstore import selectors
from cloudstore.models import Category, Product, Sku
from cloudstore.services import catalogue
from retail import api_fields, filters
from retail.api_base import BrandGenericView
from retail.events import Actor
from retail.tenancy import get_for_brand_or_404


class SkuSerializer(serializers.ModelSerializer):
    product_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = Sku
        fields = ["id", "product_id", "code", "spec", "barcode", "list_price_fen", "active"]
        read_only_fields = ["id", "product_id"]


class SkuWriteSerializer(serializers.Serializer):
    product_id = api_fields.IdField(required=False)
    code = serializers.RegexField(r"^[A-Za-z0-9._-]{1,64}$", required=False)
    spec = serializers.CharField(max_length=64, required=False, allow_blank=True)
    barcode = serializers.RegexField(r"^[0-9A-Za-z-]{0,32}$", required=False, allow_blank=True)
    list_price_fen = serializers.IntegerField(min_value=0, max_value=10**10, required=False)
    active = serializers.BooleanField(required=False)


class ProductSerializer(serializers.ModelSerializer):
    category = serializers.SerializerMethodField()
    skus = SkuSerializer(many=True, read_only=True)
    images = serializers.SerializerMethodField()

    class Meta:
        model = Product
        fields = ["id", "name", "category", "description", "status", "skus", "images", "created_at"]
        read_only_fields = fields

    def get_category(self, p) -> dict | None:
        return {"id": p.category_id, "name": p.category.name} if p.category_id else None

    def get_images(self, p) -> list[dict]:
        return [
            {"url": i.image.url, "thumbnail": i.thumbnail.url, "width": i.width, "height": i.height}
            for i in p.images.all()
        ]


class ProductWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120, required=False)
    category_id = api_fields.IdField(required=False, allow_null=True)
    description = serializers.CharField(max_length=4000, required=False, allow_blank=True)
    status = serializers.ChoiceField(choices=Product.Status.choices, required=False)


class ProductFilter(filters.SelectorFilterSet):
    q = filters.CharFilter(max_length=64)
    category = filters.IdFilter()
    status = filters.ChoiceFilter(choices=Product.Status.choices)

    class Meta:
        model = Product
        fields: list = []


class _ProductView(BrandGenericView, abstract=True):
    """The brand's catalogue. Reads for any staff; writes for brand admins."""

    serializer_class = ProductSerializer

    def _products(self, **filters) -> QuerySet[Product]:
        return selectors.product_list(brand=self.brand, **filters).prefetch_related("skus", "images")

    def get_queryset(self) -> QuerySet[Product]:
        if getattr(self, "swagger_fake_view", False):
            return Product.unscoped.none()
        return self._products()

    def get_object(self) -> Product:
        return self.get_object_by_pk(self.kwargs["pk"])

    def get_object_by_pk(self, pk):
        return get_for_brand_or_404(self._products(), self.brand, pk=pk)

    def _save(self, request, product=None, code=status.HTTP_200_OK):
        s = ProductWriteSerializer(data=request.data, partial=product is not None)
        s.is_valid(raise_exception=True)
        data = dict(s.validated_data)
        if product is None and not data.get("name"):
            raise exceptions.ValidationError({"name": [_("This field is required.")]})
        if "category_id" in data:
            cid = data.pop("category_id")
            data["category"] = get_for_brand_or_404(Category, self.brand, pk=cid) if cid else None
        product = catalogue.product_save(
            brand=self.brand, staff=self.staff, actor=Actor.from_request(request), data=data, product=product
        )
        return Response(ProductSerializer(self.get_object_by_pk(product.pk)).data, status=code)


class ProductListView(filters.FilteredListView, _ProductView):
    """The brand's catalogue. Reads for any staff; writes for brand admins."""

    scopes = {"GET": "catalogue:read", "POST": "catalogue:write"}
    filterset_class = ProductFilter

    def get_queryset(self) -> QuerySet[Product]:
        if getattr(self, "swagger_fake_view", False):
            return Product.unscoped.none()
        d = self.filter_values()
        return self._products(q=d.get("q", ""), category_id=d.get("category"), status=d.get("status", ""))

    @extend_schema(request=ProductWriteSerializer, responses={201: ProductSerializer})
    def post(self, request):
        return self._save(request, code=status.HTTP_201_CREATED)


class ProductDetailView(_ProductView):
    scopes = {"GET": "catalogue:read", "PATCH": "catalogue:write"}

    def get(self, request, pk: int):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(request=ProductWriteSerializer, responses=ProductSerializer)
    def patch(self, request, pk: int):
        return self._save(request, product=self.get_object())


class SkuFilter(filters.SelectorFilterSet):
    q = filters.CharFilter(max_length=64)

    class Meta:
        model = Sku
        fields: list = []


class _SkuView(BrandGenericView, abstract=True):
    """SKUs of the brand's products. Reads for any staff; writes for brand admins."""

    serializer_class = SkuSerializer

    def get_queryset(self) -> QuerySet[Sku]:
        if getattr(self, "swagger_fake_view", False):
            return Sku.unscoped.none()
        return selectors.sku_list(brand=self.brand)

    def get_object(self) -> Sku:
        return get_for_brand_or_404(Sku, self.brand, pk=self.kwargs["pk"])


class SkuListView(filters.FilteredListView, _SkuView):
    """SKUs of the brand's products. Reads for any staff; writes for brand admins."""

    scopes = {"GET": "catalogue:read", "POST": "catalogue:write"}
    filterset_class = SkuFilter

    def get_queryset(self) -> QuerySet[Sku]:
        if getattr(self, "swagger_fake_view", False):
            return Sku.unscoped.none()
        return selectors.sku_list(brand=self.brand, **self.filter_values())

    @extend_schema(request=SkuWriteSerializer, responses={201: SkuSerializer})
    def post(self, request):
        s = SkuWriteSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = dict(s.validated_data)
        missing = [f for f in ("product_id", "code", "list_price_fen") if f not in d]
        if missing:
            raise exceptions.ValidationError({f: [_("This field is required.")] for f in missing})
        product = get_for_brand_or_404(Product, self.brand, pk=d.pop("product_id"))
        sku = catalogue.sku_save(
            brand=self.brand, staff=self.staff, actor=Actor.from_request(request), product=product, data=d
        )
        return Response(SkuSerializer(sku).data, status=status.HTTP_201_CREATED)


class SkuDetailView(_SkuView):
    scopes = {"GET": "catalogue:read", "PATCH": "catalogue:write"}

    def get(self, request, pk: int):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(request=SkuWriteSerializer, responses=SkuSerializer)
    def patch(self, request, pk: int):
        sku = self.get_object()
        s = SkuWriteSerializer(data=request.data, partial=True)
        s.is_valid(raise_exception=True)
        d = dict(s.validated_data)
        product = (
            get_for_brand_or_404(Product, self.brand, pk=d.pop("product_id"))
            if "product_id" in d
            else sku.product
        )
        sku = catalogue.sku_save(
            brand=self.brand,
            staff=self.staff,
            actor=Actor.from_request(request),
            product=product,
            data=d,
            sku=sku,
        )
        return Response(SkuSerializer(sku).data)
