"""Client-facing errors of the publishing domain (rendered as problem+json)."""

from __future__ import annotations

from postplan.core.errors import AppError


class ChannelAuthProblem(AppError):
    """A live publish cannot start for a channel: credentials missing, invalid or unconfigured.

    Codes: `channel_auth_missing`, `channel_auth_invalid`, `channel_config_missing`.
    """

    status_code = 422
    code = "channel_auth_missing"
    title = "Channel not connected"

    def __init__(self, code: str, channel: str, detail: str) -> None:
        super().__init__(detail, code=code, extra={"channel": channel})
        self.channel = channel


class IdempotencyKeyReused(AppError):
    status_code = 422
    code = "idempotency_key_reused"
    title = "Idempotency key reused"


class IdempotencyKeyInProgress(AppError):
    status_code = 409
    code = "idempotency_key_in_progress"
    title = "Request with this idempotency key is in progress"


class IdempotencyKeyInvalid(AppError):
    status_code = 400
    code = "idempotency_key_invalid"
    title = "Invalid idempotency key"


class TokenEncryptionKeyMissing(AppError):
    status_code = 503
    code = "token_encryption_key_missing"
    title = "Token encryption is not configured"


class ConnectionNotFound(AppError):
    status_code = 404
    code = "channel_connection_not_found"
    title = "Channel not connected"


class IntentNotFound(AppError):
    status_code = 404
    code = "intent_not_found"
    title = "Publish intent not found"


class OAuthStateInvalid(AppError):
    status_code = 400
    code = "oauth_state_invalid"
    title = "OAuth state invalid or expired"


class OAuthStateMismatch(AppError):
    """The callback's browser is not the one that started the login (login CSRF)."""

    status_code = 403
    code = "oauth_state_mismatch"
    title = "OAuth login started elsewhere"


class OAuthFailed(AppError):
    status_code = 502
    code = "oauth_failed"
    title = "The channel refused the login"


class UnknownChannel(AppError):
    status_code = 404
    code = "unknown_channel"
    title = "Unknown channel"


class ChannelUnavailable(AppError):
    """The platform refused or could not answer a read-only call (creator_info)."""

    status_code = 502
    code = "channel_unavailable"
    title = "The channel did not answer"
