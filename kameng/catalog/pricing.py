"""What a member gets at the shop: the VIP price (会员价) and priority fulfilment.

Catalog shows VIP prices and orders charges them, but both sit below membership, which knows who is a member. So the
membership app fills this hook in its AppConfig.ready() and the lower apps ask here: the dependency stays one-way
(docs/architecture.md, Layers). Asking before anything registered is a configuration error and fails loudly.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kameng.core.hooks import Slot
from kameng.core.money import apply_percent


@dataclass(frozen=True)
class MemberPerks:
    discount_percent: Callable[[Any], int]  # the user's VIP discount right now; 0 for anyone not a member
    best_discount_percent: Callable[
        [], int
    ]  # the VIP price shown beside every price: the best plan's discount
    priority_fulfilment: Callable[[Any], bool]  # the user's manual orders go to the front of the queue
    # The same discount read again under the membership's row lock, inside the caller's transaction: what an
    # order may commit as its VIP price. An immediate cancel that refunds the fee holds that lock while it closes
    # the member's unpaid VIP-priced orders, so none can be priced in after it (docs/rules.md#5-cancellation).
    held_discount_percent: Callable[[Any], int]


_perks: Slot[MemberPerks] = Slot("the member perks", filled_by="the membership app")


def register(perks: MemberPerks) -> None:
    _perks.fill(perks)


def member_perks() -> MemberPerks:
    return _perks.get()


def vip_unit_price(price_fen: int, discount_percent: int) -> int:
    return apply_percent(price_fen, 100 - discount_percent)
