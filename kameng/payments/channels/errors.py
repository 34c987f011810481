"""What a channel call can refuse with. The protocol-level errors are raised by kameng.protocols, which payments and
the sandbox share; the business refusal is the adapters' own."""

from kameng.protocols.errors import ChannelProtocolError, SignatureError

__all__ = ["ChannelProtocolError", "ChannelRefused", "SignatureError"]


class ChannelRefused(ChannelProtocolError):
    """A genuine, signed business refusal (e.g. WeChat 403 NOTENOUGH): the request was understood and declined."""
