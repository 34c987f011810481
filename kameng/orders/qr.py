"""The desktop order page's 扫码支付: who gets a QR code, and the code drawn on the server as inline SVG.

A phone pays in the channel's app through the pay button (手机网站支付 / H5), so only a desktop browser is offered
the code; the page also hides it on a narrow viewport (static/kameng.css), whatever the user agent says.
"""

import re

import segno

# The words phones' and the channels' in-app browsers put in their User-Agent (iOS, Android, WeChat, Alipay...).
_MOBILE = re.compile(
    r"Mobile|Android|iPhone|iPad|iPod|HarmonyOS|MicroMessenger|AlipayClient|Windows Phone", re.I
)


def is_desktop(user_agent: str) -> bool:
    return bool(user_agent) and not _MOBILE.search(user_agent)


def svg(text: str) -> str:
    """The QR code of `text` as an <svg> element with a viewBox (the page sizes it): no XML declaration, no script,
    no inline style, so CSP-clean. segno's own markup: the text is encoded in the modules, never written into it,
    so the template may output it as is (`|safe`)."""
    code = segno.make(text, error="m", micro=False)
    return code.svg_inline(scale=5, border=2, dark="#111", light="#fff", title="扫码支付", omitsize=True)
