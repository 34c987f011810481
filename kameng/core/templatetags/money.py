from django import template

from kameng.core.money import format_yuan

register = template.Library()


@register.filter
def yuan(amount_fen: int | None) -> str:
    return "" if amount_fen is None else format_yuan(int(amount_fen))
