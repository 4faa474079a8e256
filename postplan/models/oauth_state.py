"""A pending OAuth authorisation: hashed single-use state, the encrypted PKCE verifier, and the
hash of the nonce in the starting browser's cookie
(postplan.publishing.connections.oauth_binding)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from postplan.core.db import UTCDateTime
from postplan.models.base import Base


class OAuthState(Base):
    __tablename__ = "oauth_states"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[str] = mapped_column(Text, nullable=False)
    channel: Mapped[str] = mapped_column(String(16), nullable=False)
    state_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    code_verifier_enc: Mapped[str | None] = mapped_column(Text)
    redirect_uri: Mapped[str] = mapped_column(Text, nullable=False)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    #: sha256 of the nonce in the starting browser's cookie; NULL (rows from before 0003)
    #: never matches, so such a login has to be started again.
    browser_binding_hash: Mapped[str | None] = mapped_column(String(64))
