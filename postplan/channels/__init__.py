"""The channels edge: adapters for TikTok and Instagram behind one typed interface.

No database, no web framework: a PublishRequest in, an AdapterResult or a typed error out.
"""

from postplan.channels.backoff import backoff_delay, retry_after_seconds
from postplan.channels.base import (
    AdapterResult,
    AdapterState,
    AuthError,
    ChannelAdapter,
    ChannelError,
    Credentials,
    Finding,
    HandleCallback,
    MediaRef,
    OAuthClient,
    OutcomeUnknown,
    PermanentError,
    PublishRequest,
    RetryLater,
    TokenSet,
)
from postplan.channels.config import ChannelConfig
from postplan.channels.registry import (
    adapter_from_settings,
    config_from_settings,
    get_adapter,
    get_oauth_client,
    oauth_client_from_settings,
)

__all__ = [
    "AdapterResult",
    "AdapterState",
    "AuthError",
    "ChannelAdapter",
    "ChannelConfig",
    "ChannelError",
    "Credentials",
    "Finding",
    "HandleCallback",
    "MediaRef",
    "OAuthClient",
    "OutcomeUnknown",
    "PermanentError",
    "PublishRequest",
    "RetryLater",
    "TokenSet",
    "adapter_from_settings",
    "backoff_delay",
    "config_from_settings",
    "get_adapter",
    "get_oauth_client",
    "oauth_client_from_settings",
    "retry_after_seconds",
]
