import io

import pytest
from django.core.management import call_command
from django.test import Client

from kameng.core import outbox
from kameng.core.models import OutboxMessage
from kameng.core.roles import Role
from kameng.membership.models import Cancellation
from tests.factories import PlanFactory, UserFactory, join_vip

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_members_timeline_shows_their_events_and_nobody_elses():
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    join_vip(alice, PlanFactory())
    join_vip(bob, PlanFactory())
    page = logged_in(UserFactory(role=Role.OPERATOR)).get("/console/members/alice/").content.decode()
    timeline = page[page.index('id="timeline"') :]
    assert "membership.subscribed" in timeline and "payment.received" in timeline
    assert "bob" not in timeline
    assert logged_in(UserFactory()).get("/console/members/alice/").status_code == 404


def test_an_operator_refunds_within_policy_with_the_same_cancellation():
    member, operator = UserFactory(), UserFactory(role=Role.OPERATOR)
    join_vip(member, PlanFactory(price_fen=3000))
    answer = logged_in(operator).post(f"/console/members/{member.username}/refund/")
    assert answer.status_code == 302 and "/member/receipts/" in answer["Location"]
    receipt = Cancellation.objects.get()
    assert (receipt.mode, receipt.source, receipt.actor, receipt.refund_fen) == (
        "immediate",
        "support",
        operator,
        3000,
    )


def test_dead_outbox_messages_can_be_sent_round_again():
    message = OutboxMessage.objects.create(
        topic="notifications.email", payload={"notification": 0}, status="dead", attempts=25,
        created_at=outbox.clock.now(), available_at=outbox.clock.now(),
    )  # fmt: skip
    operator = UserFactory(role=Role.OPERATOR)
    client = logged_in(operator)
    answer = client.post(
        "/admin/core/outboxmessage/", {"action": "retry", "_selected_action": [message.pk]}, follow=True
    )
    assert answer.status_code == 200
    message.refresh_from_db()
    assert message.status in ("pending", "delivered") and message.attempts <= 1


def test_the_plan_editor_previews_the_purchase_disclosure():
    plan = PlanFactory(price_fen=1500)
    page = logged_in(UserFactory(role=Role.OPERATOR)).get(f"/admin/membership/plan/{plan.pk}/change/")
    assert "¥15.00" in page.content.decode() and "下次计划扣款日" in page.content.decode()


def test_export_report_writes_csv():
    join_vip(UserFactory(), PlanFactory(name="月卡"))
    out = io.StringIO()
    call_command("export_report", "active_members", stdout=out)
    assert out.getvalue().splitlines() == ["plan,active members", "月卡,1"]


def test_a_piece_of_a_long_import_reports_rejected_lines_numbered_as_in_the_whole_file():
    import json

    from tests.factories import stocked_product

    product = stocked_product(keys=0)
    client = logged_in(UserFactory(role=Role.OPERATOR))
    body = {
        "product": product.pk,
        "first_line": 501,
        "lines": "KEY-AAAA-0001\nKEY-AAAA-0001\n" + "X" * 600,
    }
    answer = client.post(
        "/console/keys/import/chunk/", json.dumps(body), content_type="application/json"
    ).json()
    assert (answer["imported"], answer["duplicates"], answer["malformed"]) == (1, 1, 1)
    assert sorted(row["line"] for row in answer["rejected"]) == [502, 503]
    too_long = {"product": product.pk, "first_line": 1, "lines": "\n".join(f"K{i:06d}" for i in range(600))}
    refused = client.post(
        "/console/keys/import/chunk/", json.dumps(too_long), content_type="application/json"
    )
    assert refused.status_code == 422  # a value refused by a rule (docs/api.md, "Which status")
    assert refused.json()["error"]["code"] == "chunk_too_large"
    member = logged_in(UserFactory())
    assert (
        member.post(
            "/console/keys/import/chunk/", json.dumps(body), content_type="application/json"
        ).status_code
        == 404
    )
