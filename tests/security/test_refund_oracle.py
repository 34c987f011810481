"""The refund oracle of the state machine, held to the refund rule's own words and numbers
(docs/rules.md#5-cancellation; no database, no shop code)."""

from datetime import datetime, timedelta

from tests.security import refund_oracle as oracle

T0 = datetime(2027, 1, 31, 23, 30, tzinfo=oracle.SHANGHAI)
MONTH = oracle.Terms(period="month")


def _member(terms=MONTH, *, paid=3000, receipts=(), quotes=(), brought=None) -> oracle.MembershipHistory:
    return oracle.MembershipHistory(
        name="m",
        terms=terms,
        payments=[
            oracle.Paid(
                "V1", paid, T0, tuple((r.refund_fen, r.received_at) for r in receipts if r.refund_fen)
            )
        ],
        receipts=list(receipts),
        quotes=list(quotes),
        brought=brought or {},
    )


def _policy(history, at, purchases=(), view=oracle.AT_CANCEL) -> int:
    periods, _ = oracle.timeline(history)
    return oracle.policy_fen(
        history.terms, oracle.period_at(periods, at), at, oracle.VIEWS[view](list(purchases))
    )


def _cancel(at, refund_fen) -> oracle.Receipt:
    return oracle.Receipt("C1", "immediate", at, refund_fen)


def test_a_month_from_jan_31_ends_on_the_last_day_of_february_then_on_march_31():
    assert oracle.period_bounds(MONTH, T0, 0)[1].date().isoformat() == "2027-02-28"
    assert oracle.period_bounds(MONTH, T0, 1)[1].date().isoformat() == "2027-03-31"


def test_within_48_hours_and_nothing_saved_the_whole_fee_comes_back():
    assert _policy(_member(), T0 + timedelta(hours=47)) == 3000


def test_a_saving_used_since_the_charge_ends_the_full_refund_and_is_deducted():
    order = oracle.Purchase("K1", T0 + timedelta(hours=1), 200, paid_at=T0 + timedelta(hours=1))
    # 28 days (Jan 31 → Feb 28), day 1 of 28 used: round_half_up(3000 × 27 / 28) = 2893 (2892.857…), less 200.
    assert _policy(_member(), T0 + timedelta(hours=2), [order]) == 2693


def test_pro_rata_counts_days_started_and_rounds_half_up_once():
    # Day 7 started (6 days and 1 hour after the start): 21 of 28 days remain; 3000 × 21 / 28 = 2250.
    assert _policy(_member(), T0 + timedelta(days=6, hours=1)) == 2250
    # 2999 × 21 / 28 = 2249.25 → 2249; 2 × 1 / 28 … with 14 remaining: 1 × 14 / 28 = 0.5 → 1 (half up).
    assert _policy(_member(paid=2999), T0 + timedelta(days=6, hours=1)) == 2249
    assert _policy(_member(paid=1), T0 + timedelta(days=13, hours=1)) == 1


def test_a_lifetime_plan_after_the_window_pays_back_less_the_penalty_and_all_savings():
    lifetime = oracle.Terms(period="lifetime", penalty_percent=30)
    order = oracle.Purchase("K1", T0 + timedelta(days=3), 500, paid_at=T0 + timedelta(days=3))
    # 39900 − round_half_up(39900 × 30 %) = 39900 − 11970, less the 500 saved.
    assert _policy(_member(lifetime, paid=39900), T0 + timedelta(days=100), [order]) == 27430
    assert _policy(_member(oracle.Terms(period="lifetime"), paid=39900), T0 + timedelta(days=3)) == 0


def test_an_unpaid_vip_order_paid_after_a_full_refund_is_found_in_the_kept_view_only():
    cancel = _cancel(T0 + timedelta(hours=1), 3000)
    member = _member(receipts=[cancel])
    order = oracle.Purchase("K1", T0 + timedelta(minutes=30), 200, paid_at=T0 + timedelta(hours=2))
    assert _policy(member, cancel.received_at, [order], oracle.AT_CANCEL) == 3000
    assert _policy(member, cancel.received_at, [order], oracle.KEPT) < 3000
    assert any("savings counted kept" in problem for problem in oracle.violations([member], [order]))


def test_a_quote_is_honoured_while_fresh_and_not_after_a_saving_was_used():
    quote = oracle.Quote(T0 + timedelta(hours=47, minutes=50), 3000)
    cancel = _cancel(T0 + timedelta(hours=48, minutes=10), 3000)  # past the window, the quote still fresh
    member = _member(receipts=[cancel], quotes=[quote], brought={"C1": [quote]})
    assert oracle.violations([member], []) == []
    order = oracle.Purchase("K1", T0 + timedelta(hours=48), 200, paid_at=T0 + timedelta(hours=48))
    assert any("the policy allows" in problem for problem in oracle.violations([member], [order]))


def test_a_renewal_charged_after_the_cancel_was_received_must_go_back_whole():
    cancel = oracle.Receipt("C1", "end_of_period", T0 + timedelta(days=27), 0)
    member = _member(receipts=[cancel])
    member.payments.append(oracle.Paid("V2", 3000, T0 + timedelta(days=28, seconds=5)))
    assert oracle.timeline(member)[1] == [member.payments[1]]
    assert any("after a cancellation was received" in problem for problem in oracle.violations([member], []))
