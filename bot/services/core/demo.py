"""A small demo org so a newcomer can chat at once: `fieldcrm demo`, or `make run` on an empty database."""
from datetime import datetime

from sqlalchemy import select

from bot.services.core import org
from bot.services.leads import pool
from db.models import User
from db.session import UnitOfWork

DEMO_ORG: dict = {
    "units": [
        {
            "name": "Acme Trading",
            "timezone": "Asia/Shanghai",
            "phone_region": "CN",
            "children": [{"name": "East Team"}, {"name": "West Team"}],
        }
    ],
    "users": [
        {"handle": "admin", "name": "Ada Admin", "unit": "Acme Trading", "role": "admin", "locale": "en"},
        {"handle": "mei", "name": "王梅 Wang Mei", "unit": "Acme Trading", "role": "manager", "locale": "zh",
         "timezone": "Asia/Shanghai"},
        {"handle": "li", "name": "李雷 Li Lei", "unit": "East Team", "role": "rep", "locale": "zh",
         "timezone": "Asia/Shanghai", "manager": "mei"},
        {"handle": "zhang", "name": "张伟 Zhang Wei", "unit": "East Team", "role": "rep", "locale": "zh",
         "timezone": "Asia/Shanghai", "manager": "mei"},
        {"handle": "sam", "name": "Sam Carter", "unit": "West Team", "role": "rep", "locale": "en",
         "timezone": "Asia/Shanghai", "manager": "mei"},
    ],
    "channels": [
        {"platform": "console", "workspace": "local", "chat": "#sales", "name": "#sales",
         "unit": "Acme Trading", "locale": "en", "timezone": "Asia/Shanghai"},
    ],
}


def load_demo(uow: UnitOfWork, now: datetime) -> org.OrgLoadResult:
    result = org.load_org(uow, DEMO_ORG, "Asia/Shanghai", "en")
    for raw in DEMO_ORG["users"]:
        user = uow.session.scalar(select(User).where(User.handle == raw["handle"]))
        assert user is not None
        org.link_console_identity(uow, user.id, user.handle, now)
    pool.load_demo_pool(uow, now)
    return result


def has_users(uow: UnitOfWork) -> bool:
    return uow.session.scalar(select(User.id).limit(1)) is not None
