"""Demo texts members agree to on joining: a privacy policy and a member agreement per brand."""

from __future__ import annotations

from members.models import MemberPolicy
from retail.models import Brand
from retail.tenancy import brand_scope

PRIVACY = """{brand}会员隐私政策

我们收集什么：你的手机号（用于识别会员身份和登录），你在门店和线上的消费记录与积分，以及为你服务的专属导购。

我们为什么收集：为你提供积分、会员等级权益和一对一服务。只有在你同意的情况下，我们才会向你发送优惠和资讯。

谁能看到：只有为你服务的门店员工和品牌管理员，且仅在服务所需的范围内。我们不会出售你的个人信息。

你的权利：你可以随时在会员页查看、导出你的数据，撤回营销同意，或注销会员并删除数据。"""

TERMS = """{brand}会员协议

1. 加入：使用本人手机号验证后即成为会员，每个手机号对应一个会员身份。
2. 积分：消费每满 1 元累计积分，积分规则和有效期以会员页面公布为准；退款时相应积分会被扣回。
3. 专属导购：首次为你服务的导购成为你的专属导购，你可以在会员页查看或更换。
4. 变更：本协议更新时会生成新版本，并在加入页面和会员页面公示。
5. 注销：你可以随时在会员页申请注销，注销后积分和记录将被删除且无法恢复。"""


def seed_policies(brand: Brand, stores: list | None = None) -> None:
    """Version 1 of the brand's privacy policy and member agreement, unless it has texts already."""
    with brand_scope(brand):
        for kind, body in ((MemberPolicy.Kind.PRIVACY, PRIVACY), (MemberPolicy.Kind.TERMS, TERMS)):
            if not MemberPolicy.objects.for_brand(brand).filter(kind=kind).exists():
                MemberPolicy.objects.create(
                    brand=brand, kind=kind, version=1, body=body.format(brand=brand.name)
                )
