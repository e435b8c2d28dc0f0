"""How commission codes read in words: audit events and their targets."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

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
        "commission.settings": _lazy("Commission settings changed"),
        "commission.rule_created": _lazy("Commission rule created"),
        "commission.rule_ended": _lazy("Commission rule ended"),
        "commission.rule_withdrawn": _lazy("Commission rule withdrawn"),
        "commission.attribution_rules": _lazy("Attribution rules changed"),
        "commission.reattribution": _lazy("Re-attribution requested"),
        "commission.period_approved": _lazy("Settlement approved"),
        "commission.period_closed_early": _lazy("Settlement period closed early"),
        "commission.statement_held": _lazy("Statement held"),
        "commission.statement_released": _lazy("Statement released"),
    }
)
register_group(_lazy("Commission"), "commission.")
register_target("guides.CommissionSettings", _lazy("Commission settings"), _describe_settings)
register_target("guides.CommissionRule", _lazy("commission rule"))
register_target("guides.SettlementPeriod", _lazy("settlement period"))
register_target("guides.Statement", _lazy("commission statement"), _describe_statements)
register_target("guides.AttributionRule", _lazy("attribution rules"), _describe_attribution_rules)
register_target("guides.Reattribution", _lazy("re-attribution"), _describe_reattributions)
