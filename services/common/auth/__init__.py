"""Who is calling: API keys with roles (app, reviewer, admin).

The contract every service builds on (issue 9 fills in key storage and hashing; issue 10's
reviewer identity reads ``Principal.name``):

- an ``Authenticator`` is put on ``app.state.authenticator`` by the service wiring;
- endpoints declare their role with ``Annotated[Principal, Depends(require(Role.X))]``;
- ``admin`` may call everything; ``app`` and ``reviewer`` only their own endpoints;
- with auth off (embedded dev mode only) every caller is an admin named by the optional
  ``X-Reviewer`` header, so several people can try the review page locally.
"""

from services.common.auth.principal import (
    Authenticator,
    DevAuthenticator,
    Principal,
    Role,
    require,
)

__all__ = ["Authenticator", "DevAuthenticator", "Principal", "Role", "require"]
