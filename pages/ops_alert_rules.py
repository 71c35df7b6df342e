"""/ops/alerts/rules: the alert rules, their editor and backtest (admins only; reached through
the alert center's tabs, not the sidebar)."""

import dash

from bi_app.alerts import channel_admin, rule_admin, sources
from bi_app.i18n import N_, _
from bi_app.jobs.status import job_specs
from bi_app.roles import Page
from bi_app.viewer import current_viewer
from components import alerts_nav
from components import ops_alert_rules_view as view


def _title(**_path: object) -> str:
    """The browser tab's title, in the request's language."""
    return _("%(page)s · bi-app", page=_("Alert rules"))


dash.register_page(
    __name__,
    path="/ops/alerts/rules",
    name=N_("Alert rules"),
    order=41,
    title=_title,
    roles=Page.OPS_ALERT_RULES,
)


def layout(rule=None, **_query):
    notices, selected = [], None
    specs = job_specs()
    if rule not in (None, ""):
        try:
            selected = rule_admin.get_rule(int(str(rule)))
        except (ValueError, rule_admin.RuleNotFound):
            notices.append(_("There is no rule %(id)s; showing a new rule.", id=str(rule)[:20]))
    return view.layout(
        nav=alerts_nav.tabs("rules", current_viewer().role),
        rules=rule_admin.list_rules(),
        selected=selected,
        notices=notices,
        metrics=sources.METRICS,
        checks=sources.HEALTH_CHECKS,
        channels=[c["name"] for c in channel_admin.list_channels()],
        jobs=sorted(specs),
        schedule=specs["alert_evaluation"].trigger_text if "alert_evaluation" in specs else "",
    )
