"""What can go wrong talking to a feed or a broker, sorted by what to do about it."""


class TemporaryError(Exception):
    """Worth retrying: a network blip, a timeout, a rate limit, a busy exchange."""


class PermanentError(Exception):
    """Retrying cannot help; the message says what the trader must fix."""


class KeyRefused(PermanentError):
    """The exchange refused the API key (revoked, expired, wrong IP, wrong exchange): every
    signed call fails alike until one succeeds again; public ones (candles, prices) go on."""


class ExchangePaused(TemporaryError):
    """The exchange asked for a pause (HTTP 429 rate limit, 418 IP ban): nothing is sent to it
    for `seconds`; a retry waits that long or gives up."""

    def __init__(self, message: str, seconds: float) -> None:
        super().__init__(message)
        self.seconds = seconds


class OrderStatusUnknown(TemporaryError):
    """The broker may have accepted the order: look it up by client order id before resending."""


class FeedUnavailable(TemporaryError):
    """The feed did not answer even after retries."""


class OrderNotPlaced(TemporaryError):
    """An entry the broker never took, even after lookups and resends; counts as a rejection."""

    def __init__(self, pair: str, message: str) -> None:
        super().__init__(message)
        self.pair = pair
