"""Every table, re-exported so any module can import a model without an import cycle."""

from postplan.models.base import Base
from postplan.models.calendar import Calendar
from postplan.models.cluster import FlagDefinition, Lease, PacingWindow
from postplan.models.connection import ChannelConnection
from postplan.models.entry import CalendarEntry, EntryRevision
from postplan.models.idempotency import IdempotencyKey
from postplan.models.media import Media, MediaUpload
from postplan.models.notification import Notification, Webhook, WebhookDelivery
from postplan.models.oauth_state import OAuthState
from postplan.models.publish import PublishAttempt, PublishIntent
from postplan.models.run import CalendarRun
from postplan.models.schema_revision import SchemaRevision

__all__ = [
    "Base",
    "Calendar",
    "CalendarEntry",
    "CalendarRun",
    "ChannelConnection",
    "EntryRevision",
    "FlagDefinition",
    "IdempotencyKey",
    "Lease",
    "Media",
    "MediaUpload",
    "Notification",
    "OAuthState",
    "PacingWindow",
    "PublishAttempt",
    "PublishIntent",
    "SchemaRevision",
    "Webhook",
    "WebhookDelivery",
]
