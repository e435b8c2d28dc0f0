"""Catalogue API: products and SKUs."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.response import Response

from cloudstore import selectors
from cloudstore.models import Category, Product, Sku
from cloudstore.services import catalogue
from retail import api_fields
from retail.api_base import BrandViewSet
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


class ProductFilterSerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=64)
    category = api_fields.IdField(required=False)
    status = serializers.ChoiceField(choices=Product.Status.choices, required=False)


class ProductViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BrandViewSet):
    """The brand's catalogue. Reads for any staff; writes for brand admins."""

    serializer_class = ProductSerializer
    lookup_value_regex = r"[0-9]+"
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[Product]:
        if getattr(self, "swagger_fake_view", False):
            return Product.unscoped.none()
        f = ProductFilterSerializer(data=self.request.query_params)
        f.is_valid(raise_exception=True)
        d = f.validated_data
        return selectors.product_list(
            brand=self.brand, q=d.get("q", ""), category_id=d.get("category"), status=d.get("status", "")
        ).prefetch_related("skus", "images")

    def get_object(self) -> Product:
        return get_for_brand_or_404(self.get_queryset(), self.brand, pk=self.kwargs["pk"])

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

    def get_object_by_pk(self, pk):
        return get_for_brand_or_404(self.get_queryset(), self.brand, pk=pk)

    @extend_schema(parameters=[ProductFilterSerializer])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=ProductWriteSerializer, responses={201: ProductSerializer})
    def create(self, request):
        return self._save(request, code=status.HTTP_201_CREATED)

    @extend_schema(request=ProductWriteSerializer, responses=ProductSerializer)
    def partial_update(self, request, pk=None):
        return self._save(request, product=self.get_object())


class SkuViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BrandViewSet):
    """SKUs of the brand's products. Reads for any staff; writes for brand admins."""

    serializer_class = SkuSerializer
    lookup_value_regex = r"[0-9]+"
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[Sku]:
        if getattr(self, "swagger_fake_view", False):
            return Sku.unscoped.none()
        q = self.request.query_params.get("q", "")[:64]
        return selectors.sku_list(brand=self.brand, q=q)

    def get_object(self) -> Sku:
        return get_for_brand_or_404(Sku, self.brand, pk=self.kwargs["pk"])

    @extend_schema(request=SkuWriteSerializer, responses={201: SkuSerializer})
    def create(self, request):
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

    @extend_schema(request=SkuWriteSerializer, responses=SkuSerializer)
    def partial_update(self, request, pk=None):
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
