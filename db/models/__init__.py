"""All models, one module per model family, named after it (Deal in deal.py, Visit in visit.py...).

Every module is imported here so metadata and alembic see each table: a new module adds its line.
"""
from db.base import Base
from db.models.app_secret import AppSecret
from db.models.audit import AuditEntry
from db.models.board import (
    BoardSnapshot,
    ChannelBoardSettings,
    HeldAnnouncement,
    UnitAnnouncementSettings,
)
from db.models.customer import Contact, Customer, CustomerFollowup, CustomerSettings
from db.models.deal import Deal, LoseReason, Payment, Stage
from db.models.handover import HandoverBatch, HandoverItem
from db.models.holiday import Holiday
from db.models.identity import Invitation, PlatformIdentity
from db.models.inbound import InboundEvent
from db.models.job_run import JobRun
from db.models.lead import Lead, LeadClaim, LeadEvent, LeadFollowup, LeadReturnWarning, LeadStatus
from db.models.nudge import NudgeLog, NudgeSettings
from db.models.org import DataScope, OrgUnit, Role, TeamChannel, User
from db.models.outbox import OutboxMessage, SendBudget
from db.models.photo import VisitPhoto
from db.models.plan import PlannedVisit, PlanPush, PlanSettings
from db.models.pool import Pool, PoolMember
from db.models.record_member import RecordMember
from db.models.reminder import Reminder
from db.models.screen import ScreenLink
from db.models.target import Target
from db.models.visit import (
    CustomerLocationRequest,
    UsedCheckinLink,
    Visit,
    VisitSettings,
    VisitTrailPoint,
)

__all__ = [
    "AppSecret",
    "AuditEntry",
    "Base",
    "PlanPush",
    "PlanSettings",
    "PlannedVisit",
    "ScreenLink",
    "BoardSnapshot",
    "ChannelBoardSettings",
    "Contact",
    "Customer",
    "CustomerLocationRequest",
    "CustomerFollowup",
    "CustomerSettings",
    "DataScope",
    "Deal",
    "HandoverBatch",
    "HandoverItem",
    "HeldAnnouncement",
    "Holiday",
    "InboundEvent",
    "Invitation",
    "JobRun",
    "Lead",
    "LeadClaim",
    "LeadEvent",
    "LeadFollowup",
    "LeadReturnWarning",
    "LeadStatus",
    "LoseReason",
    "NudgeLog",
    "NudgeSettings",
    "OrgUnit",
    "OutboxMessage",
    "Payment",
    "PlatformIdentity",
    "Pool",
    "PoolMember",
    "RecordMember",
    "Reminder",
    "SendBudget",
    "Role",
    "Stage",
    "Target",
    "TeamChannel",
    "UnitAnnouncementSettings",
    "UsedCheckinLink",
    "User",
    "Visit",
    "VisitPhoto",
    "VisitSettings",
    "VisitTrailPoint",
]
