"""Money is an integer number of fen (分). Rounding is half up, once, at the end of a computation."""


def round_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up (away from zero for halves), in exact integer arithmetic."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    sign = -1 if numerator < 0 else 1
    quotient, remainder = divmod(abs(numerator), denominator)
    if remainder * 2 >= denominator:
        quotient += 1
    return sign * quotient


def apply_percent(amount_fen: int, percent: int) -> int:
    """amount × percent / 100, rounded half up: a 85 % VIP price of 1,999 fen is 1,699 fen (1699.15)."""
    return round_half_up(amount_fen * percent, 100)


def format_yuan(amount_fen: int) -> str:
    """¥12.30 for 1230 fen; never goes through float."""
    sign = "-" if amount_fen < 0 else ""
    yuan, fen = divmod(abs(amount_fen), 100)
    return f"{sign}¥{yuan:,}.{fen:02d}"


def yuan_str(amount_fen: int) -> str:
    """ "12.30" for 1230 fen: the decimal-yuan string that Alipay's total_amount expects."""
    sign = "-" if amount_fen < 0 else ""
    yuan, fen = divmod(abs(amount_fen), 100)
    return f"{sign}{yuan}.{fen:02d}"


def parse_yuan(text: str) -> int:
    """ "12.3" → 1230 fen, exactly; refuses more than two decimals or anything that is not a plain number."""
    text = text.strip()
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    whole, _, frac = body.partition(".")
    if not whole.isdigit() or (frac and not frac.isdigit()) or len(frac) > 2:
        raise ValueError(f"not an amount in yuan: {text!r}")
    return sign * (int(whole) * 100 + int((frac + "00")[:2]))
