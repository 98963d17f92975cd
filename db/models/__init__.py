"""All models. Every module in this package is imported here so metadata and alembic see each table.

A capability keeps its tables in its own module; nothing needs adding to this file.
"""
import importlib
import pkgutil

from db.base import Base
from db.models.app_secret import AppSecret
from db.models.crm import (
    Contact,
    Customer,
    Lead,
    LeadEvent,
    LeadStatus,
    Opportunity,
    Pool,
    PoolMember,
    RecordMember,
    Stage,
    Visit,
)
from db.models.infra import InboundEvent, JobRun, OutboxMessage
from db.models.org import DataScope, Invitation, OrgUnit, PlatformIdentity, Role, TeamChannel, User

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "AppSecret",
    "Base",
    "Contact",
    "Customer",
    "DataScope",
    "InboundEvent",
    "Invitation",
    "JobRun",
    "Lead",
    "LeadEvent",
    "LeadStatus",
    "Opportunity",
    "OrgUnit",
    "OutboxMessage",
    "PlatformIdentity",
    "Pool",
    "PoolMember",
    "RecordMember",
    "Role",
    "Stage",
    "TeamChannel",
    "User",
    "Visit",
]
