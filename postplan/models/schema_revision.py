"""Every migration revision ever applied to this database (not only the current one).

Alembic keeps only the current head; a rolling deploy needs to know whether the schema has
passed a build's own head, which a later head alone cannot tell an older build that has never
heard of it. Rows are written by the migration environment as each step applies.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from postplan.core.db import UTCDateTime
from postplan.models.base import Base


class SchemaRevision(Base):
    __tablename__ = "schema_revisions"

    revision: Mapped[str] = mapped_column(String(64), primary_key=True)
    applied_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
