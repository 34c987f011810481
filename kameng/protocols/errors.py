"""Protocol-level refusals: a notification or an answer from a channel that must not be believed."""


class ChannelProtocolError(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class SignatureError(ChannelProtocolError):
    """The signature is missing, malformed, stale or does not verify."""
