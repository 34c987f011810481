"""No refund ever exceeds the policy, whatever a member (and support, and the operator) do in whatever order.

A hypothesis state machine plays one member through the real HTTP API and the sandbox gateway on PostgreSQL:
quotes, VIP-priced orders and their payment, time passing (the renewal sweep and every other sweep run at their due
moments), cancels in both modes with or without a quote taken earlier, support tickets approved by an agent, and
the operator changing the plan's price and discount in the admin. After every step it recomputes what the refund
policy allows from the member's own history with an oracle written apart from the shop's code (refund_oracle.py)
and checks the shop's books (docs/testing.md#the-refund-state-machine).

The races of issue 13 are steps of their own, each played in its racing order, deterministically: a VIP-priced
order paid after the cancel was received, a renewal charged at the channel while a cancel came in (the cancel lands
between the channel's answer and the worker recording it), a support approval and a self-service cancel in either
order, and a quote taken before a price change and brought to the cancel after it.

Each example runs in a savepoint rolled back at its end, so examples start from the same shop (a member, an
agent, an operator, two stocked products) in a fraction of a second.
"""

import math
import os
import re
import sys
import time
from datetime import datetime, timedelta
from types import SimpleNamespace
from unittest import mock

import pytest
from django.db import transaction
from django.forms.models import model_to_dict
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from kameng.accounts import services as accounts
from kameng.console.invariants import CHECKS, find_violations
from kameng.core import clock, outbox, sweeps
from kameng.core.roles import Role
from kameng.membership import renewals, schedule
from kameng.membership.models import Agreement, Cancellation, Membership, Plan
from kameng.orders.models import Order
from kameng.payments.models import Payment, Refund
from kameng.sandbox import services as sandbox
from tests.factories import (
    SWEEP_EVERY,
    PlanFactory,
    UserFactory,
    complete_at_channel,
    open_cashier,
    post_json,
    stocked_product,
)
from tests.security import refund_oracle as oracle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

SETTINGS = settings(
    max_examples=int(os.environ.get("KAMENG_REFUND_EXAMPLES", 40)),  # raise it for one run to search harder
    stateful_step_count=15,
    deadline=None,
    derandomize=os.environ.get("CI") == "true",
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
START = datetime(2026, 3, 2, 10, 0, tzinfo=clock.SHANGHAI)  # a Monday; the holiday calendar knows 2026
MODES = st.sampled_from(["immediate", "end_of_period"])
CATEGORIES = st.sampled_from(["cancel_membership", "refund"])
WAITS = st.sampled_from(  # around the order TTL, the 48-hour window, a day, a month
    [timedelta(minutes=5), timedelta(minutes=20), timedelta(hours=5), timedelta(hours=23),
     timedelta(hours=47), timedelta(hours=49), timedelta(days=6), timedelta(days=29)]
)  # fmt: skip
PLANS = st.sampled_from(
    [
        {"period": "month", "price_fen": 3000, "discount_percent": 10},
        {"period": "month", "price_fen": 2999, "discount_percent": 15, "deduct_savings": False},
        {"period": "quarter", "price_fen": 8000, "discount_percent": 20},
        {"period": "year", "price_fen": 19900, "discount_percent": 20},
        {"period": "lifetime", "price_fen": 39900, "discount_percent": 25},
        {"period": "lifetime", "price_fen": 39900, "discount_percent": 25, "lifetime_penalty_percent": 30},
    ]
)
# Where in the calendar the member joins: now, late on a 31st (periods clamp to shorter months), mid-month.
STARTS = st.sampled_from(["now", "31st_late", "15th_noon"])


def _start_moment(kind: str) -> datetime:
    now = clock.local(clock.now())
    if kind == "now":
        return now
    day, hour = (31, 23) if kind == "31st_late" else (15, 12)
    moment = now
    while True:
        moment = (moment.replace(day=1) + timedelta(days=32)).replace(day=1)
        try:
            return moment.replace(day=day, hour=hour, minute=30, second=0, microsecond=0)
        except ValueError:
            continue


def _drain() -> None:
    """What follows a commit at once in production: the channel's notifications and the outbox (refunds, unsigns,
    mail) delivered. The sweeps with a schedule run only when the clock moves (play_for, play_until)."""
    for _ in range(10):
        if not sandbox.deliver_due_notifications() + outbox.deliver_due():
            return


def _move_clock_to(moment: datetime) -> None:
    seconds = math.ceil((moment - clock.now()).total_seconds())
    if seconds > 0:
        clock.advance(seconds=seconds)


def _play_until(moment: datetime) -> None:
    """Time passes to `moment` as under beat: the sweeps run once just after each moment work falls due (then
    what they queued is delivered), and once at `moment` (tests/factories.py's play_until, with one round of
    sweeps a stop instead of rounds until a quiet one)."""
    while (due := sweeps.next_due_at()) is not None and due <= moment:
        stop = min(max(due, clock.now()) + SWEEP_EVERY, moment)
        if stop <= clock.now():
            break
        _move_clock_to(stop)
        sweeps.run_due_sweeps()
        _drain()
    _move_clock_to(moment)
    sweeps.run_due_sweeps()
    _drain()


def _ticket_quote_id(page) -> str:
    """The quote id the agent's ticket page puts in its approval form ("" when it shows no quote)."""
    found = re.search(rb'name="quote_id" value="([^"]*)"', page.content)
    return found.group(1).decode() if found else ""


class RefundMachine(RuleBasedStateMachine):
    """One member's life with one plan; see the module docstring. `world` is set by the test."""

    world: SimpleNamespace
    quotes = Bundle("quotes")
    orders = Bundle("orders")
    tickets = Bundle("tickets")

    def __init__(self):
        super().__init__()
        # A savepoint per example, rolled back in teardown. Marked as the test's own block, as Django's TestCase
        # marks its blocks, so the lock-order guard sees each service's transaction as production runs it.
        self._example = transaction.atomic()
        self._example._from_testcase = True
        self._example.__enter__()
        # Every example starts at the same instant (real time then runs on from it), so a step does the same on any
        # day the suite runs, and a replayed example does what it did the first time.
        started = time.monotonic()
        self._frozen = mock.patch.object(
            timezone, "now", lambda: START + timedelta(seconds=time.monotonic() - started)
        )
        self._frozen.start()
        clock.forget_cached_offset()
        self.member = self.world.member
        self.web, self.agent, self.operator = Client(), Client(), Client()  # signed-in browsers
        self.web.force_login(self.member)
        self.agent.force_login(self.world.agent)
        self.operator.force_login(self.world.operator)
        self.plan: Plan | None = None
        self.terms: oracle.Terms | None = None
        self.quotes_shown: dict[int, list[oracle.Quote]] = {}  # membership pk → quotes
        self.brought: dict[str, list[oracle.Quote]] = {}  # receipt_no → quotes sent with its cancel
        self._token_at: datetime | None = None
        self._api: Client | None = None
        self.status, self.auto_renew = "none", False  # the membership's, refreshed after every step

    def teardown(self):
        if sys.exc_info()[0] is None:  # the example ran clean: the shop's books keep every promise at its end
            assert not find_violations(CHECKS)
        transaction.set_rollback(True)
        self._example.__exit__(None, None, None)
        self._frozen.stop()
        clock.forget_cached_offset()

    # --- helpers ----------------------------------------------------------------------------------------------

    @property
    def api(self) -> Client:
        """The member's API client; a fresh token after the clock moved (tokens may expire)."""
        if self._api is None or self._token_at != clock.now().replace(microsecond=0, second=0):
            token = accounts.issue_token(user=self.member)
            self._api = Client(headers={"Authorization": f"Bearer {token}"})
            self._token_at = clock.now().replace(microsecond=0, second=0)
        return self._api

    def membership(self) -> Membership | None:
        return (
            Membership.objects.filter(user=self.member)
            .exclude(status__in=[Membership.Status.PENDING, Membership.Status.ABANDONED])
            .order_by("-created_at", "-id")
            .first()
        )

    def live(self) -> bool:
        return self.status in (Membership.Status.ACTIVE, Membership.Status.PAST_DUE)

    def renewing(self) -> bool:
        return self.status == Membership.Status.ACTIVE and self.auto_renew

    def _refused(self, answer, *allowed: int) -> None:
        """A refusal is a 4xx with the error envelope, never a 5xx."""
        assert answer.status_code in allowed, (answer.status_code, answer.content[:300])
        if answer.status_code >= 400 and answer["Content-Type"].startswith("application/json"):
            assert answer.json()["error"]["code"]

    def _cancel(
        self, mode: str, quote: oracle.Quote | None = None, quote_id: str = "", *, drain: bool = True
    ) -> str | None:
        answer = post_json(self.api, "/api/v1/membership/cancel", {"mode": mode, "quote_id": quote_id})
        self._refused(answer, 200, 404, 409)
        if drain:
            _drain()
        if answer.status_code != 200:
            event(f"cancel {mode}: refused {answer.json()['error']['code']}")
            return None
        receipt_no = answer.json()["receipt_no"]
        event(f"cancel {mode}{' with a quote' if quote else ''}: refund {bool(answer.json()['refund_fen'])}")
        if quote is not None:
            self.brought.setdefault(receipt_no, []).append(quote)
        return receipt_no

    def _pay(self, order_no: str) -> None:
        before = Order.objects.values_list("status", "discount_fen").get(order_no=order_no)
        answer = Client().post(f"/sandbox/pay/{order_no}")
        self._refused(answer, 200, 400, 404, 409)
        _drain()
        after = Order.objects.values_list("status", flat=True).get(order_no=order_no)
        event(f"pay a {'VIP-priced ' if before[1] else ''}{before[0]} order: {after}")

    def _buy(self, sku: str, quantity: int) -> str | None:
        answer = post_json(
            self.api, "/api/v1/orders", {"sku": sku, "quantity": quantity, "channel": "alipay"}
        )
        self._refused(answer, 201, 409, 429)
        if answer.status_code != 201:
            return None
        order_no = answer.json()["order_no"]
        open_cashier(SimpleNamespace(order_no=order_no))  # the trade exists: it can be paid even after expiry
        return order_no

    def _file_ticket(self, category: str) -> str | None:
        """退订 / 退款 ticket with the member's latest membership order as proof."""
        proof = Order.objects.filter(user=self.member, kind=Order.Kind.MEMBERSHIP).latest("created_at", "id")
        answer = post_json(
            self.api,
            "/api/v1/support/tickets",
            {"category": category, "order_no": proof.order_no, "reason": "请帮我退订会员并退款"},
        )
        self._refused(answer, 201, 429)
        return answer.json()["ticket_no"] if answer.status_code == 201 else None

    def _join(self, auto_renew: bool) -> None:
        """Subscribes through the API and pays (or signs the agreement, which pays the first period) at the
        sandbox, as the member would."""
        auto_renew = auto_renew and self.plan.renews
        answer = post_json(
            self.api,
            "/api/v1/membership/subscribe",
            {"plan_code": self.plan.code, "channel": "alipay", "auto_renew": auto_renew,
             "auto_renew_consent": auto_renew},
        )  # fmt: skip
        assert answer.status_code == 201, answer.content
        order_no = answer.json()["order_no"]
        if auto_renew:
            to_channel = Client().get(f"/orders/{order_no}/pay/")
            assert to_channel.status_code == 302, to_channel.content
            complete_at_channel(to_channel["Location"])
        else:
            assert Client().post(f"/sandbox/pay/{order_no}").status_code == 200
        _drain()

    def _change_plan(self, **changes) -> None:
        """The operator edits the plan in the admin."""
        plan = Plan.objects.get(pk=self.plan.pk)
        form = {**model_to_dict(plan, exclude=["id"]), **changes}
        # As the browser posts the form: a ticked box is "on", an unticked one is left out, an empty number is "".
        data = {k: "on" if v is True else "" if v is None else v for k, v in form.items() if v is not False}
        answer = self.operator.post(f"/admin/membership/plan/{plan.pk}/change/", {**data, "_save": "1"})
        assert answer.status_code == 302, [
            line
            for line in answer.content.decode().splitlines()
            if "errorlist" in line or "errornote" in line
        ]

    # --- the member joins -------------------------------------------------------------------------------------

    @initialize(plan=PLANS, auto_renew=st.booleans(), start=STARTS)
    def join(self, plan, auto_renew, start):
        _move_clock_to(_start_moment(start))
        self.plan = PlanFactory(**plan)
        self.terms = oracle.Terms(
            period=plan["period"],
            deduct_savings=plan.get("deduct_savings", True),
            penalty_percent=plan.get("lifetime_penalty_percent"),
        )
        self._join(auto_renew)

    @precondition(lambda self: self.plan is not None and not self.live())
    @rule(auto_renew=st.booleans())
    def join_again(self, auto_renew):
        """Back after the membership ended, at the plan's price of today."""
        self._join(auto_renew)

    # --- the plain steps --------------------------------------------------------------------------------------

    @rule(target=quotes)
    def take_quote(self):
        answer = self.api.get("/api/v1/membership/refund-quote")
        self._refused(answer, 200, 404, 409)
        if answer.status_code != 200:
            return multiple()
        body = answer.json()
        quote = oracle.Quote(
            taken_at=datetime.fromisoformat(body["quoted_at"]), refund_fen=body["refund_fen"]
        )
        self.quotes_shown.setdefault(self.membership().pk, []).append(quote)
        return SimpleNamespace(quote=quote, quote_id=body["quote_id"])

    @rule(target=orders, which=st.sampled_from(["cheap", "dear"]), quantity=st.integers(1, 3))
    def buy(self, which, quantity):
        order_no = self._buy(getattr(self.world, which).sku, quantity)
        return multiple() if order_no is None else order_no

    @rule(order_no=orders)
    def pay(self, order_no):
        self._pay(order_no)

    @rule(wait=WAITS)
    def time_passes(self, wait):
        _play_until(clock.now() + wait)

    @precondition(lambda self: self.live() and self.plan.renews)
    @rule()
    def period_ends(self):
        """To just past the period's end: the renewal sweep has charged it in its window (C-2..C, on or before the
        end), or the membership expires."""
        current = self.membership()
        if current.current_period_end is not None:
            _play_until(max(current.current_period_end, clock.now()) + timedelta(minutes=1))

    @precondition(lambda self: self.plan is not None)
    @rule(mode=MODES, brought=st.none() | quotes)
    def cancel(self, mode, brought):
        self._cancel(mode, brought and brought.quote, brought.quote_id if brought else "")

    @precondition(lambda self: self.renewing())
    @rule(where=st.sampled_from(["member_centre", "channel_app"]))
    def auto_renew_turned_off(self, where):
        """关闭自动续费 from the member centre's switch, or unsigned inside the channel's app (its notification
        follows): both end-of-period cancellations."""
        if where == "member_centre":
            answer = post_json(self.api, "/api/v1/membership/auto-renew", {"enabled": False})
            self._refused(answer, 200, 409)
        else:
            agreement = Agreement.objects.filter(membership__user=self.member, status="active").first()
            if agreement is not None:
                answer = self.web.post(f"/sandbox/agreements/{agreement.channel_agreement_no}/unsign")
                assert answer.status_code in (200, 302), answer.content[:300]
        _drain()

    @precondition(lambda self: self.plan is not None)
    @rule(target=tickets, category=CATEGORIES)
    def file_ticket(self, category):
        ticket_no = self._file_ticket(category)
        return multiple() if ticket_no is None else ticket_no

    @rule(
        ticket_no=tickets, mode=st.sampled_from(["", "immediate", "end_of_period"]), asked=st.none() | quotes
    )
    def agent_approves(self, ticket_no, mode, asked):
        """The agent approves; `asked`: the refund the member asked for in the ticket (a quote they were shown)."""
        # The approval carries the quote the agent saw: the one on the ticket page now, or (`asked`) one shown
        # earlier, which binds only while nothing it was computed from changed (else 409 with the new quote).
        quote_id = (
            asked.quote_id if asked else _ticket_quote_id(self.agent.get(f"/support/tickets/{ticket_no}/"))
        )
        answer = self.agent.post(
            f"/support/tickets/{ticket_no}/decide/",
            {"decision": "approve", "mode": mode, "quote_id": quote_id},
        )
        assert answer.status_code in (302, 400, 403, 404, 409), (answer.status_code, answer.content[:300])
        event(f"agent approves{' with the refund asked' if asked else ''}: {answer.status_code}")
        _drain()

    @rule(price=st.sampled_from([1990, 3000, 4500, 19900]), discount=st.sampled_from([0, 10, 30]))
    def operator_changes_the_plan(self, price, discount):
        self._change_plan(price_fen=price, discount_percent=discount)

    # --- the races of issue 13, each in its racing order ------------------------------------------------------

    @precondition(lambda self: self.live())
    @rule(
        mode=MODES, which=st.sampled_from(["cheap", "dear"]), quantity=st.integers(1, 3), late=st.booleans()
    )
    def vip_order_paid_after_the_cancel(self, mode, which, quantity, late):
        """`late`: paid after the order expired (the cashier was open: the channel takes the money all the same)."""
        order_no = self._buy(getattr(self.world, which).sku, quantity)
        self._cancel(mode)
        if late:
            _play_until(clock.now() + timedelta(minutes=20))
        if order_no:
            self._pay(order_no)

    @precondition(lambda self: self.renewing() and self.plan.renews)
    @rule(mode=MODES)
    def renewal_charged_while_a_cancel_is_in_flight(self, mode):
        """The sweep claims the renewal and the channel takes the money; the member's cancel lands before the
        worker records the channel's answer."""
        # The renewal's first attempt is on C-2 at the member's charge time (docs/rules.md#renewal-schedule).
        first = schedule.coming_cycle(self.membership()).first_attempt_at
        _play_until(
            max(first - timedelta(minutes=1), clock.now())
        )  # reminded, announced, nothing charged yet
        due = self.membership().next_charge_at or first  # the attempt, 5 × 24 h after the reminder at least
        _move_clock_to(max(due, clock.now()) + timedelta(seconds=1))
        real = renewals.get_channel

        class CancelArrivesMeanwhile:
            def __init__(self, adapter):
                self.adapter = adapter

            def __getattr__(self, name):  # every other call (the notice) goes to the adapter as it is
                return getattr(self.adapter, name)

            def charge_agreement(inner, **call):  # `self` is the machine
                answer = inner.adapter.charge_agreement(**call)
                event("renewal charged at the channel, then the cancel")
                self._cancel(mode, drain=False)
                return answer

        with mock.patch.object(renewals, "get_channel", lambda name: CancelArrivesMeanwhile(real(name))):
            renewals.renew_due_memberships()
        self._cancel(mode)  # no charge was due (postponed): the cancel still comes
        _play_until(clock.now() + SWEEP_EVERY)  # beat's next run: a period that ended unrenewed expires

    @precondition(lambda self: self.live())
    @rule(category=CATEGORIES, member_first=st.booleans(), member_mode=MODES, agent_mode=MODES)
    def approval_races_a_self_service_cancel(self, category, member_first, member_mode, agent_mode):
        ticket_no = self._file_ticket(category)
        if ticket_no is None:
            return
        approve = lambda: self.agent_approves(ticket_no=ticket_no, mode=agent_mode, asked=None)  # noqa: E731
        if member_first:
            self._cancel(member_mode)
            approve()
        else:
            approve()
            self._cancel(member_mode)

    @precondition(lambda self: self.live())
    @rule(price=st.sampled_from([1990, 4500]), discount=st.sampled_from([0, 30]), wait=st.booleans())
    def quote_taken_before_a_price_change(self, price, discount, wait):
        taken = self.take_quote()
        self._change_plan(price_fen=price, discount_percent=discount)
        if wait:
            _play_until(clock.now() + timedelta(minutes=10))
        if isinstance(taken, SimpleNamespace):
            self._cancel("immediate", taken.quote, taken.quote_id)

    # --- after every step -------------------------------------------------------------------------------------

    @precondition(lambda self: self.plan is not None)
    @invariant()
    def no_refund_exceeds_the_policy_and_the_books_balance(self):
        problems = oracle.violations(self._histories(), self._purchases())
        assert not problems, "\n".join(problems)

    def _purchases(self) -> list[oracle.Purchase]:
        rows = Order.objects.filter(user=self.member, kind=Order.Kind.GOODS).values_list(
            "order_no", "created_at", "discount_fen", "paid_at", "refunded_at"
        )
        return [oracle.Purchase(*row) for row in rows]

    def _histories(self) -> list[oracle.MembershipHistory]:
        """The member's memberships as they can see them: what they paid for each, when, what came back, their
        receipts and the quotes they were shown. Also notes the latest membership's state for the preconditions."""
        memberships = list(
            Membership.objects.filter(user=self.member)
            .order_by("created_at", "id")
            .values_list("pk", "status", "auto_renew")
        )
        self.status, self.auto_renew = next(
            ((s, a) for _, s, a in reversed(memberships) if s not in ("pending", "abandoned")),
            ("none", False),
        )
        refunds: dict[int, list] = {}
        for payment_id, amount, at in Refund.objects.filter(payment__order__user=self.member).values_list(
            "payment_id", "amount_fen", "created_at"
        ):
            refunds.setdefault(payment_id, []).append((amount, at))
        paid: dict[int, list[oracle.Paid]] = {}
        for pk, order_no, amount, at, membership in Payment.objects.filter(
            order__user=self.member, order__kind=Order.Kind.MEMBERSHIP
        ).values_list(
            "pk", "order__order_no", "amount_fen", "paid_at", "order__membership_attempt__charge__membership"
        ):
            paid.setdefault(membership, []).append(
                oracle.Paid(order_no, amount, at, tuple(refunds.get(pk, ())))
            )
        receipts: dict[int, list[oracle.Receipt]] = {}
        for membership, *receipt in Cancellation.objects.filter(membership__user=self.member).values_list(
            "membership", "receipt_no", "mode", "received_at", "refund_fen"
        ):
            receipts.setdefault(membership, []).append(oracle.Receipt(*receipt))
        return [
            oracle.MembershipHistory(
                name=f"membership {pk}",
                terms=self.terms,
                payments=paid.get(pk, []),
                receipts=receipts.get(pk, []),
                quotes=self.quotes_shown.get(pk, []),
                brought=self.brought,
            )
            for pk, _, _ in memberships
        ]


def test_no_refund_ever_exceeds_the_policy_whatever_the_order_of_events():
    member = UserFactory()
    RefundMachine.world = SimpleNamespace(
        member=member,
        agent=UserFactory(role=Role.SUPPORT),
        operator=UserFactory(role=Role.OPERATOR),
        cheap=stocked_product(keys=60, price_fen=1999),
        dear=stocked_product(keys=60, price_fen=49900),
    )
    run_state_machine_as_test(RefundMachine, settings=SETTINGS)
