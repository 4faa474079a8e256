"""The only module that knows every router; mounts the versioned API under /v1."""

from __future__ import annotations

from fastapi import APIRouter

from postplan.calendars.endpoints import router as calendars_router
from postplan.calendars.manage_endpoints import router as calendars_manage_router
from postplan.calendars.runs.endpoints import router as generate_router
from postplan.exports.endpoints import router as exports_router
from postplan.health.flags_endpoints import router as flags_router
from postplan.media.endpoints import router as media_router
from postplan.media.tus import router as tus_router
from postplan.notifications.endpoints import router as notifications_router
from postplan.publishing.connections.creator import router as creator_router
from postplan.publishing.connections.endpoints import router as connections_router
from postplan.publishing.intake.endpoints import router as intake_router
from postplan.publishing.intake.manage_endpoints import router as intents_manage_router
from postplan.publishing.intake.preview import router as preview_router

api_router = APIRouter(prefix="/v1")
api_router.include_router(calendars_router)
api_router.include_router(calendars_manage_router)
api_router.include_router(generate_router)
api_router.include_router(flags_router)
api_router.include_router(intake_router)
api_router.include_router(intents_manage_router)
api_router.include_router(connections_router)
api_router.include_router(creator_router)
api_router.include_router(preview_router)
api_router.include_router(exports_router)
api_router.include_router(tus_router)
api_router.include_router(media_router)
api_router.include_router(notifications_router)
