"""Forged, replayed and tampered channel notifications, per channel, through the real notify endpoints.

Every probe is a notification an outsider can post to `/payments/notify/<channel>/` (WeChat Pay's 委托代扣 ones to
`/payments/notify/wechat/papay/`): signed with a key that is not the channel's, signed genuinely but about another
amount, merchant, channel or order, or a genuine one delivered again. Each is answered the way the channel reads a
refusal (Alipay: anything but `success`, here 400 `failure`; WeChat Pay APIv3: a 4xx with `{"code": "FAIL"}`; WeChat
Pay v2 委托代扣: HTTP 200 with `<return_code>FAIL</return_code>`, 回调处理 s.八), and changes nothing in the shop's
books. After a refusal, the genuine notification for the same order still counts: the probe was refused for what it
got wrong, nothing else.

WeChat's 委托代扣 sign / terminate notifications are API v2 XML signed with the APIv2 key (change_type ADD / DELETE,
https://pay.weixin.qq.com/doc/v2/merchant/4011987586.md). They carry no signed timestamp, so the v3 check "a callback
timestamped more than 300 seconds ago is refused" has no v2 counterpart; what stands against their replay is tested
instead: a genuine ADD replayed after the contract ended never revives auto-renew.

To add a probe: a line in PAYMENT_PROBES or AGREEMENT_PROBES (a name and what it does to the genuine notice).
"""

import functools
import json
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pytest
from django.test import Client

from kameng.core import clock
from kameng.core.money import yuan_str
from kameng.membership import services as membership
from kameng.membership.models import PERIOD_MONTHS, Agreement, Cancellation
from kameng.orders.models import Order
from kameng.payments.channels.registry import get_channel
from kameng.payments.models import Payment
from kameng.protocols import alipay as alipay_protocol
from kameng.protocols import wechat as wechat_protocol
from kameng.protocols import wechat_v2
from kameng.sandbox import keys
from kameng.sandbox.keys import _keypair
from tests.factories import PlanFactory, UserFactory, join_vip, place_order, stocked_product

pytestmark = pytest.mark.django_db

CHANNELS = ("alipay", "wechat")
OTHER = {"alipay": "wechat", "wechat": "alipay"}


@functools.cache
def forger_key() -> str:
    """A well-formed RSA key that is not the channel's: what anyone can sign with."""
    return _keypair()[0]


# A well-formed APIv2 key (32 characters) that is not the merchant's: what a forger of v2 notifications signs with.
FORGER_APIV2_KEY = "0123456789abcdef0123456789abcdef"


# --- notices: what the channel would send, and what a probe makes of it -------------------------------------------


@dataclass(frozen=True)
class Notice:
    """One notification as it reaches the endpoint: the channel, its headers and its exact body."""

    channel: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    endpoint: str = ""  # "papay": WeChat's v2 委托代扣 notifications, beside its v3 ones

    @property
    def protocol(self) -> str:
        """How the notice is read and answered: "alipay", "wechat" (APIv3) or "wechat-papay" (v2 XML)."""
        return f"{self.channel}-{self.endpoint}" if self.endpoint else self.channel

    def post(self):
        content_type = {
            "alipay": "application/x-www-form-urlencoded; charset=utf-8",
            "wechat": "application/json",
            "wechat-papay": "text/xml; charset=utf-8",
        }[self.protocol]
        path = f"/payments/notify/{self.channel}/" + (f"{self.endpoint}/" if self.endpoint else "")
        return Client().post(path, self.body, content_type=content_type, headers=self.headers)


def _alipay(fields: dict, *, key: str | None) -> Notice:
    params = {
        "charset": "utf-8",
        "version": "1.0",
        "notify_time": clock.now().strftime("%Y-%m-%d %H:%M:%S"),
        "app_id": keys.ALIPAY_APP_ID,
        **fields,
    }
    signed = alipay_protocol.sign_notification(params, key or keys.sandbox_keys()["alipay_private"])
    return Notice("alipay", urlencode(signed).encode())


def _wechat(
    event_type: str, resource: dict, *, original_type: str, event_id: str, key: str | None, age: int
) -> Notice:
    headers, body = wechat_protocol.build_callback(
        event_type=event_type,
        summary="probe",
        resource_plain={"mchid": keys.WECHAT_MCHID, "appid": keys.WECHAT_APPID, **resource},
        resource_type_original=original_type,
        apiv3_key=keys.sandbox_keys()["wechat_apiv3_key"],
        platform_private_key_pem=key or keys.sandbox_keys()["wechat_platform_private"],
        platform_serial=keys.WECHAT_PLATFORM_SERIAL,
        now_ts=int(clock.now().timestamp()) - age,
        event_id=event_id,
    )
    return Notice("wechat", body, headers)


def payment_notice(
    channel: str,
    order: Order,
    *,
    amount_fen: int | None = None,
    out_trade_no: str | None = None,
    trade_no: str | None = None,
    notify_id: str | None = None,
    foreign: dict | None = None,
    key: str | None = None,
    age: int = 0,
) -> Notice:
    """The channel's "paid" notification for `order`, genuine unless a keyword says otherwise. `foreign` overrides
    the merchant's ids (app_id; mchid / appid), `key` signs instead of the channel, `age` backdates WeChat's
    timestamp by that many seconds."""
    amount = order.amount_fen if amount_fen is None else amount_fen
    out_trade_no = out_trade_no or order.order_no
    trade_no = trade_no or f"T{order.order_no}"
    notify_id = notify_id or f"N{order.order_no}"
    if channel == "alipay":
        fields = {
            "notify_id": notify_id,
            "notify_type": "trade_status_sync",
            "trade_no": trade_no,
            "out_trade_no": out_trade_no,
            "trade_status": "TRADE_SUCCESS",
            "total_amount": yuan_str(amount),
            **(foreign or {}),
        }
        return _alipay(fields, key=key)
    resource = {
        "out_trade_no": out_trade_no,
        "transaction_id": trade_no,
        "trade_state": "SUCCESS",
        "amount": {"total": amount, "currency": "CNY"},
        **(foreign or {}),
    }
    return _wechat(
        "TRANSACTION.SUCCESS", resource, original_type="transaction", event_id=notify_id, key=key, age=age
    )


def _wechat_contract(fields: dict, *, key: str | None) -> Notice:
    """A 签约-解约结果通知 as WeChat sends it: flat XML, not encrypted, signed with the APIv2 key the way the H5
    signing request was (HMAC-SHA256, 签名与验签规则 s.一), built with the v2 codec the sandbox sends hers with."""
    xml = wechat_v2.to_xml(
        wechat_v2.signed(fields, key or keys.sandbox_keys()["wechat_apiv2_key"], "HMAC-SHA256")
    )
    return Notice("wechat", xml, {}, "papay")


def agreement_notice(
    channel: str,
    agreement: Agreement,
    *,
    signed: bool,
    external_no: str | None = None,
    agreement_no: str | None = None,
    notify_id: str | None = None,
    foreign: dict | None = None,
    key: str | None = None,
) -> Notice:
    """Alipay's dut_user_sign / dut_user_unsign, WeChat's 签约-解约结果通知 (change_type ADD / DELETE, API v2), for
    `agreement`; genuine unless a keyword says otherwise. `key` signs instead of the channel (for WeChat: an APIv2
    key, FORGER_APIV2_KEY)."""
    external_no = external_no or agreement.external_no
    agreement_no = agreement_no or agreement.channel_agreement_no or "20260000000000000042"
    notify_id = notify_id or f"A{'S' if signed else 'U'}{agreement.external_no}"
    if channel == "alipay":
        fields = {
            "notify_id": notify_id,
            "notify_type": "dut_user_sign" if signed else "dut_user_unsign",
            "agreement_no": agreement_no,
            "external_agreement_no": external_no,
            "personal_product_code": "CYCLE_PAY_AUTH_P",
            "status": "NORMAL" if signed else "UNSIGN",
            **(foreign or {}),
        }
        return _alipay(fields, key=key)
    # The fields of the guide's example (回调处理 s.3.1), in its order; DELETE adds contract_termination_mode
    # (2: the member ended it in WeChat). plan_id is the shop's 委托代扣 template for the plan's period.
    months = PERIOD_MONTHS[agreement.membership.plan.period]
    fields = {
        "return_code": "SUCCESS",
        "result_code": "SUCCESS",
        "mch_id": keys.WECHAT_MCHID,
        "contract_code": external_no,
        "openid": "onqOjjmM1tad-3ROpncN-yUfa6ua",
        "plan_id": get_channel("wechat").config.papay_plan_ids[months],
        "change_type": "ADD" if signed else "DELETE",
        "operate_time": clock.local(clock.now()).strftime("%Y-%m-%d %H:%M:%S"),
        "contract_id": agreement_no,
        **({} if signed else {"contract_termination_mode": "2"}),
        **(foreign or {}),
    }
    return _wechat_contract(fields, key=key)


def changed_after_signing(notice: Notice, order: Order) -> Notice:
    """The genuine notice with its amount lowered to 1 fen after the channel signed it. WeChat's amount sits in
    the encrypted resource: the prober re-encrypts it (as if the APIv3 key had leaked) and keeps the signature."""
    if notice.channel == "alipay":
        old = f"total_amount={yuan_str(order.amount_fen)}".encode()
        assert old in notice.body
        return Notice("alipay", notice.body.replace(old, b"total_amount=0.01"), notice.headers)
    envelope = json.loads(notice.body)
    plain = wechat_protocol.decrypt_resource(envelope["resource"], keys.sandbox_keys()["wechat_apiv3_key"])
    plain["amount"]["total"] = 1
    envelope["resource"] = wechat_protocol.encrypt_resource(
        plain,
        apiv3_key=keys.sandbox_keys()["wechat_apiv3_key"],
        associated_data="transaction",
        original_type="transaction",
    )
    return Notice("wechat", json.dumps(envelope, separators=(",", ":")).encode(), notice.headers)


FOREIGN_MERCHANT = {"alipay": {"app_id": "2021999999999999"}, "wechat": {"mchid": "1999999999"}}
FOREIGN_APP = {"alipay": {"app_id": "2021999999999999"}, "wechat": {"appid": "wx0000000000000000"}}
# The same in an agreement notice: WeChat's v2 委托代扣 names the merchant `mch_id`.
AGREEMENT_FOREIGN_MERCHANT = {**FOREIGN_MERCHANT, "wechat": {"mch_id": "1999999999"}}
AGREEMENT_FOREIGN_APP = FOREIGN_APP


# --- what the channel is answered ---------------------------------------------------------------------------------


def _papay_answer(response) -> str:
    """The return_code of a v2 answer, which must be the exact flat XML 回调处理 s.4.1 asks for."""
    assert response.status_code == 200 and response["Content-Type"].startswith("text/xml")
    return wechat_v2.from_xml(response.content)["return_code"]


def assert_refused(protocol: str, response) -> None:
    """The refusal as each channel reads it: the shop records nothing. `protocol` is the channel, or a notice's
    `protocol` ("wechat-papay": a v2 FAIL, which WeChat logs for the merchant's attention, 回调处理 s.八)."""
    if protocol == "alipay":
        assert (response.status_code, response.content) == (400, b"failure")
    elif protocol == "wechat-papay":
        assert _papay_answer(response) == "FAIL"
    else:
        assert response.status_code == 400 and json.loads(response.content)["code"] == "FAIL"


def assert_acknowledged(protocol: str, response) -> None:
    if protocol == "alipay":
        assert (response.status_code, response.content) == (200, b"success")
    elif protocol == "wechat-papay":
        assert _papay_answer(response) == "SUCCESS"
    else:
        assert response.status_code == 204


# --- payments -----------------------------------------------------------------------------------------------------

# name → the probe made from the genuine notice's ingredients (channel, unpaid order of that channel).
PAYMENT_PROBES = {
    "forged signature": lambda ch, order: payment_notice(ch, order, key=forger_key()),
    "amount changed after signing": lambda ch, order: changed_after_signing(payment_notice(ch, order), order),
    "signed for another amount": lambda ch, order: payment_notice(ch, order, amount_fen=order.amount_fen - 1),
    "another merchant": lambda ch, order: payment_notice(ch, order, foreign=FOREIGN_MERCHANT[ch]),
    "another app": lambda ch, order: payment_notice(ch, order, foreign=FOREIGN_APP[ch]),
    "unknown order": lambda ch, order: payment_notice(ch, order, out_trade_no="K20990101000000000001"),
}


def unpaid_order(user, channel: str) -> Order:
    return place_order(user, stocked_product(keys=1), channel=channel)


@pytest.mark.parametrize("probe", PAYMENT_PROBES)
@pytest.mark.parametrize("channel", CHANNELS)
def test_a_probed_payment_notification_is_refused_and_changes_nothing(channel, probe, member, shop_state):
    order = unpaid_order(member, channel)
    before = shop_state()

    assert_refused(channel, PAYMENT_PROBES[probe](channel, order).post())

    assert shop_state() == before
    assert_acknowledged(channel, payment_notice(channel, order).post())  # the genuine one still pays it
    assert Order.objects.get(pk=order.pk).status == Order.Status.DELIVERED


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_payment_notification_for_an_order_placed_on_the_other_channel_is_refused(
    channel, member, shop_state
):
    order = unpaid_order(member, OTHER[channel])
    before = shop_state()

    assert_refused(channel, payment_notice(channel, order).post())

    assert shop_state() == before


# Ahead by 310, not 301: the seconds the request takes to arrive bring a future timestamp closer to the shop's now.
@pytest.mark.parametrize("seconds", [301, -310], ids=["301s-old", "310s-ahead"])
def test_a_wechat_payment_callback_timestamped_more_than_300_seconds_away_is_refused(
    seconds, member, shop_state
):
    order = unpaid_order(member, "wechat")
    before = shop_state()

    assert_refused("wechat", payment_notice("wechat", order, age=seconds).post())

    assert shop_state() == before


def test_a_genuine_wechat_callback_replayed_after_300_seconds_is_refused(member, shop_state):
    order = unpaid_order(member, "wechat")
    captured = payment_notice("wechat", order)
    clock.advance(seconds=301)
    before = shop_state()

    assert_refused("wechat", captured.post())

    assert shop_state() == before


@pytest.mark.parametrize("channel", CHANNELS)
def test_the_same_payment_notification_twice_is_processed_once(channel, member, shop_state):
    order = unpaid_order(member, channel)
    genuine = payment_notice(channel, order)
    assert_acknowledged(channel, genuine.post())
    after_first = shop_state()

    assert_acknowledged(channel, genuine.post())  # acknowledged, so the channel stops delivering it

    assert shop_state() == after_first
    assert Payment.objects.filter(order=order).count() == 1


@pytest.mark.parametrize("channel", CHANNELS)
def test_the_same_trade_under_a_new_notification_id_is_processed_once(channel, member, shop_state):
    order = unpaid_order(member, channel)
    assert_acknowledged(channel, payment_notice(channel, order).post())
    after_first = shop_state()

    assert_acknowledged(channel, payment_notice(channel, order, notify_id="N-another-delivery").post())

    assert shop_state() == after_first


# --- agreements (auto-renew: Alipay dut_user_sign / dut_user_unsign, WeChat papay change_type ADD / DELETE) --------

AGREEMENT_PROBES = {
    "forged signature": lambda ch, a: agreement_notice(ch, a, signed=False, key=forger(ch)),
    "another merchant": lambda ch, a: agreement_notice(
        ch, a, signed=False, foreign=AGREEMENT_FOREIGN_MERCHANT[ch]
    ),
    "another app": lambda ch, a: agreement_notice(ch, a, signed=False, foreign=AGREEMENT_FOREIGN_APP[ch]),
    "unknown agreement": lambda ch, a: agreement_notice(
        ch, a, signed=False, external_no="KA20990101000000001"
    ),
    "another agreement number": lambda ch, a: agreement_notice(
        ch, a, signed=False, agreement_no="20269999999999999999"
    ),
}


def forger(channel: str) -> str:
    """A key that is not the channel's, of the kind its agreement notices are signed with."""
    return forger_key() if channel == "alipay" else FORGER_APIV2_KEY


def protocol_of(channel: str) -> str:
    """How the channel's agreement notices are read and answered (WeChat's: v2 委托代扣)."""
    return "wechat-papay" if channel == "wechat" else channel


@dataclass(frozen=True)
class Agreements:
    signed: dict[str, Agreement]  # per channel: a member with auto-renew on, the agreement signed
    pending: dict[str, Agreement]  # per channel: a member sent to sign, who has not signed yet


@pytest.fixture(scope="class")
def agreements(class_db) -> Agreements:
    signed, pending = {}, {}
    for channel in CHANNELS:
        joined = join_vip(UserFactory(), PlanFactory(), channel=channel, auto_renew=True)
        signed[channel] = Agreement.objects.get(membership=joined)
        assert signed[channel].status == Agreement.Status.ACTIVE and joined.auto_renew
        made = membership.subscribe(
            user=UserFactory(),
            plan_code=PlanFactory().code,
            channel=channel,
            auto_renew=True,
            consent=membership.ConsentContext(given=True, ip="127.0.0.1", user_agent="pytest"),
        )
        pending[channel] = Agreement.objects.get(membership=made.membership)
    return Agreements(signed=signed, pending=pending)


class TestAgreementNotifications:
    """The probes share the signed and pending agreements, made once for the class."""

    @pytest.mark.parametrize("probe", AGREEMENT_PROBES)
    @pytest.mark.parametrize("channel", CHANNELS)
    def test_a_probed_unsign_notification_is_refused_and_keeps_auto_renew(
        self, channel, probe, agreements, shop_state
    ):
        agreement = agreements.signed[channel]
        before = shop_state()

        assert_refused(protocol_of(channel), AGREEMENT_PROBES[probe](channel, agreement).post())

        assert shop_state() == before
        assert_acknowledged(
            protocol_of(channel), agreement_notice(channel, agreement, signed=False).post()
        )  # the genuine one
        assert Agreement.objects.get(pk=agreement.pk).status == Agreement.Status.TERMINATED

    @pytest.mark.parametrize("channel", CHANNELS)
    def test_an_unsign_notification_naming_the_other_channels_agreement_is_refused(
        self, channel, agreements, shop_state
    ):
        before = shop_state()

        assert_refused(
            protocol_of(channel),
            agreement_notice(channel, agreements.signed[OTHER[channel]], signed=False).post(),
        )

        assert shop_state() == before

    @pytest.mark.parametrize("channel", CHANNELS)
    def test_the_same_unsign_notification_twice_cancels_once(self, channel, agreements, shop_state):
        agreement = agreements.signed[channel]
        genuine = agreement_notice(channel, agreement, signed=False)
        assert_acknowledged(protocol_of(channel), genuine.post())
        after_first = shop_state()

        assert_acknowledged(protocol_of(channel), genuine.post())

        assert shop_state() == after_first
        assert Cancellation.objects.filter(membership=agreement.membership).count() == 1

    @pytest.mark.parametrize("channel", CHANNELS)
    def test_a_genuine_sign_notification_replayed_after_the_member_unsigned_never_revives_it(
        self, channel, agreements, shop_state
    ):
        """What v2 offers against a replay (no signed timestamp): the sign notice of a signed agreement, captured
        and posted again after the member ended the agreement in the channel, changes nothing; auto-renew stays
        off."""
        agreement = agreements.signed[channel]
        captured = agreement_notice(channel, agreement, signed=True)
        assert_acknowledged(protocol_of(channel), captured.post())  # as the channel delivered it at signing
        assert_acknowledged(protocol_of(channel), agreement_notice(channel, agreement, signed=False).post())
        clock.advance(
            seconds=86400
        )  # a day later: the channel's own retries of the sign notice are long over
        after_end = shop_state()

        captured.post()  # acknowledged (a repeat) or refused: either way it counts for nothing

        assert shop_state() == after_end
        ended = Agreement.objects.select_related("membership").get(pk=agreement.pk)
        assert ended.status == Agreement.Status.TERMINATED and ended.membership.auto_renew is False

    @pytest.mark.parametrize("probe", ["forged signature", "another merchant"])
    @pytest.mark.parametrize("channel", CHANNELS)
    def test_a_probed_sign_notification_is_refused_and_charges_nothing(
        self, channel, probe, agreements, shop_state
    ):
        agreement = agreements.pending[channel]
        tamper = (
            {"key": forger(channel)}
            if probe == "forged signature"
            else {"foreign": AGREEMENT_FOREIGN_MERCHANT[channel]}
        )
        before = shop_state()

        assert_refused(
            protocol_of(channel), agreement_notice(channel, agreement, signed=True, **tamper).post()
        )

        assert shop_state() == before
        assert Agreement.objects.get(pk=agreement.pk).status == Agreement.Status.PENDING

    @pytest.mark.parametrize("channel", CHANNELS)
    def test_the_same_sign_notification_twice_signs_and_charges_once(self, channel, agreements, shop_state):
        agreement = agreements.pending[channel]
        genuine = agreement_notice(channel, agreement, signed=True)
        assert_acknowledged(protocol_of(channel), genuine.post())
        assert Agreement.objects.get(pk=agreement.pk).status == Agreement.Status.ACTIVE
        after_first = shop_state()

        assert_acknowledged(protocol_of(channel), genuine.post())

        assert shop_state() == after_first


# --- bodies that are not XML WeChat would send ----------------------------------------------------------------------

# An XML declaration naming an encoding Python does not know raises LookupError inside the parser, one naming an
# encoding that cannot read the bytes raises a decoding error: neither may reach the view as a 500.
HOSTILE_PAPAY_BODIES = {
    "unknown encoding": b'<?xml version="1.0" encoding="foo"?><xml><return_code>SUCCESS</return_code></xml>',
    "undecodable bytes": b'<?xml version="1.0" encoding="utf-8"?><xml><a>\xff\xfe</a></xml>',
    "utf-16 declared": b'<?xml version="1.0" encoding="utf-16"?><xml><a>1</a></xml>',
}


@pytest.mark.parametrize("body", HOSTILE_PAPAY_BODIES.values(), ids=HOSTILE_PAPAY_BODIES)
def test_a_papay_notification_in_a_hostile_encoding_is_refused_not_a_server_error(body, shop_state):
    before = shop_state()

    assert_refused("wechat-papay", Notice("wechat", body, {}, "papay").post())

    assert shop_state() == before
