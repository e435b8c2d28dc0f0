"""How commission codes read in words: audit events and their targets."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from guides.models import AttributionRule, Reattribution, Statement
from retail.labels import register_actions, register_group, register_target


def _ids(ids: list[str]) -> list[int]:
    return [int(i) for i in ids if i.isdigit()]


def statement_label(s: Statement) -> str:
    return _("%(guide)s's statement for %(period)s") % {"guide": s.guide.name, "period": s.period.label}


def _describe_statements(ids: list[str]) -> dict[str, str]:
    rows = Statement.objects.filter(pk__in=_ids(ids)).select_related("guide", "period")
    return {str(s.pk): statement_label(s) for s in rows}


def _describe_attribution_rules(ids: list[str]) -> dict[str, str]:
    rows = AttributionRule.objects.filter(pk__in=_ids(ids)).values_list("pk", "version")
    return {str(pk): _("Attribution rules, version %(n)s") % {"n": v} for pk, v in rows}


def reattribution_label(r: Reattribution) -> str:
    return _("Re-attribution of %(start)s – %(end)s") % {
        "start": timezone.localtime(r.start).strftime("%Y-%m-%d"),
        "end": timezone.localtime(r.end).strftime("%Y-%m-%d"),
    }


def _describe_reattributions(ids: list[str]) -> dict[str, str]:
    return {str(r.pk): reattribution_label(r) for r in Reattribution.objects.filter(pk__in=_ids(ids))}


def _describe_settings(ids: list[str]) -> dict[str, str]:
    return {i: str(_("Commission settings")) for i in ids}


register_actions(
    {
        "commission.settings": gettext_lazy("Commission settings changed"),
        "commission.rule_created": gettext_lazy("Commission rule created"),
        "commission.rule_ended": gettext_lazy("Commission rule ended"),
        "commission.rule_withdrawn": gettext_lazy("Commission rule withdrawn"),
        "commission.attribution_rules": gettext_lazy("Attribution rules changed"),
        "commission.reattribution": gettext_lazy("Re-attribution requested"),
        "commission.period_approved": gettext_lazy("Settlement approved"),
        "commission.period_closed_early": gettext_lazy("Settlement period closed early"),
        "commission.statement_held": gettext_lazy("Statement held"),
        "commission.statement_released": gettext_lazy("Statement released"),
    }
)
register_group(gettext_lazy("Commission"), "commission.")
register_target("guides.CommissionSettings", gettext_lazy("Commission settings"), _describe_settings)
register_target("guides.CommissionRule", gettext_lazy("commission rule"))
register_target("guides.SettlementPeriod", gettext_lazy("settlement period"))
register_target("guides.Statement", gettext_lazy("commission statement"), _describe_statements)
register_target("guides.AttributionRule", gettext_lazy("attribution rules"), _describe_attribution_rules)
register_target("guides.Reattribution", gettext_lazy("re-attribution"), _describe_reattributions)

from guides.messaging import labels as _messaging_labels  # noqa: E402, F401  messaging audit words
