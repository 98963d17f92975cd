"""The installation's shared secrets: every process and every restart reads the same value."""
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from db.base import utcnow
from db.models import AppSecret
from db.session import UnitOfWork


def shared_secret(uow: UnitOfWork, name: str) -> str:
    """The secret called `name`, made now if no process made it before. Caller commits."""
    found = uow.session.scalar(select(AppSecret.value).where(AppSecret.name == name))
    if found is not None:
        return found
    try:
        with uow.session.begin_nested():
            uow.session.add(AppSecret(name=name, value=secrets.token_urlsafe(48), created_at=utcnow()))
    except IntegrityError:
        pass  # another process made it first: use that one
    return uow.session.scalar(select(AppSecret.value).where(AppSecret.name == name).execution_options(
        populate_existing=True))
