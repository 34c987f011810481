import csv
import io

import pytest
from django.test import Client

from kameng.core import clock
from kameng.core.roles import Role
from kameng.membership import cancellation
from kameng.membership.models import Charge
from tests.factories import PlanFactory, UserFactory, join_vip, play_for

pytestmark = pytest.mark.django_db


def logged_in(role) -> Client:
    client = Client()
    client.force_login(UserFactory(role=role))
    return client


def test_operators_and_finance_see_the_dashboard_members_do_not():
    assert logged_in(Role.OPERATOR).get("/console/").status_code == 200
    assert logged_in(Role.FINANCE).get("/console/").status_code == 200
    assert logged_in(Role.MEMBER).get("/console/").status_code == 404
    assert logged_in(Role.SUPPORT).get("/console/export/revenue.csv").status_code == 404


def test_the_dashboard_draws_svg_charts_without_scripts():
    plan = PlanFactory(name="月卡")
    join_vip(UserFactory(), plan)
    page = logged_in(Role.OPERATOR).get("/console/").content.decode()
    assert page.count("<svg") == 6 and "<script" not in page
    assert 'id="chart-active_members"' in page and "月卡" in page


def test_renewals_in_a_played_quarter_read_100_percent_reminder_compliance():
    user = UserFactory()
    membership = join_vip(user, PlanFactory(), auto_renew=True)
    play_for(days=95)
    assert Charge.objects.filter(membership=membership, is_renewal=True, status="succeeded").count() == 3
    since, today = clock.local(membership.created_at).date(), clock.now().date()
    answer = logged_in(Role.OPERATOR).get(f"/console/export/reminders.csv?from={since}&to={today}")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows == [["charges", "reminded ≥ 5 days before", "compliance %"], ["3", "3", "100.0"]]


def test_csv_export_filters_by_plan_and_counts_cancellations():
    a, b = PlanFactory(code="a", name="A"), PlanFactory(code="b", name="B")
    for plan in (a, a, b):
        user = UserFactory()
        join_vip(user, plan)
        cancellation.cancel_membership(user=user, mode="immediate", reason="too_expensive")
    client = logged_in(Role.OPERATOR)
    rows = list(
        csv.reader(io.StringIO(client.get("/console/export/churn.csv?plan=a").content.decode("utf-8-sig")))
    )
    assert rows[1][1] == "2"
    reasons = client.get("/console/export/cancellations.csv").content.decode("utf-8-sig")
    assert "价格太高" in reasons and ",3" in reasons


def test_malformed_filters_fall_back_to_the_last_30_days_and_unknown_tables_are_404():
    client = logged_in(Role.OPERATOR)
    assert client.get("/console/?from=yesterday&to=2026-13-40&plan=<x>").status_code == 200
    assert client.get("/console/?from=2020-01-01&to=2026-01-01").status_code == 200
    assert client.get("/console/export/passwords.csv").status_code == 404
