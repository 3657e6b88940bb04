"""One exception root, so callers can catch everything alstream raises on purpose."""


class AlstreamError(Exception):
    """Root of every error alstream raises deliberately."""


class InvalidInput(AlstreamError):
    """Input that fails validation; HTTP maps it to 422, consumers to the dead-letter topic."""


class UnsupportedMedia(InvalidInput):
    """A body in a Content-Type the endpoint does not take; HTTP maps it to 415."""


class NotFound(AlstreamError):
    """An item, lease or model version that does not exist."""


class Unauthorized(AlstreamError):
    """A missing, malformed, wrong or revoked API key; HTTP maps it to 401."""


class Forbidden(AlstreamError):
    """A valid key whose role does not allow the call; HTTP maps it to 403."""


class Conflict(AlstreamError):
    """A request that contradicts current state, e.g. labeling an item leased to someone else."""


class Overloaded(AlstreamError):
    """Admission control refused the work; HTTP maps it to 429."""


class SignatureError(AlstreamError):
    """A model artifact whose signature does not verify; it is never unpickled."""


class BackendUnavailable(AlstreamError):
    """Kafka, Redis or another backend cannot be reached."""
