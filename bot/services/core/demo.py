"""A small demo org so a newcomer can chat at once: `fieldcrm demo`, or `make run` on an empty database.
It comes with a demo pool of a few unassigned leads."""
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.services.core import org, org_file
from bot.services.leads import dedupe
from bot.services.leads.lifecycle import S, record_event
from db import phone_keys
from db.models import Lead, OrgUnit, Pool, PoolMember, User
from db.models.org import Role
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


def load_demo(uow: UnitOfWork, now: datetime) -> org_file.OrgLoadResult:
    result = org_file.load_org(uow, DEMO_ORG, "Asia/Shanghai", "en", now=now)
    for raw in DEMO_ORG["users"]:
        user = uow.session.scalar(select(User).where(User.handle == raw["handle"]))
        assert user is not None
        org.link_console_identity(uow, user.id, user.handle, now)
    load_demo_pool(uow, now)
    return result


def has_users(uow: UnitOfWork) -> bool:
    return uow.session.scalar(select(User.id).limit(1)) is not None


DEMO_POOL = "demo pool"
DEMO_LEADS = [
    ("上海星河贸易有限公司", "陈静", "+86 138 0013 8001", "华东", "展会", "贸易"),
    ("杭州云杉科技股份有限公司", "刘洋", "0571-8888 1234", "华东", "官网", "软件"),
    ("北京长城机械集团", "赵磊", "010-6543 2100", "华北", "电话", "制造"),
    ("Bluewater Logistics Co., Ltd.", "Emma Stone", "+1 415 555 0101", "West", "referral", "logistics"),
    ("Northwind Foods Inc.", "Tom Baker", "+44 20 7946 0958", "Europe", "web", "food"),
    ("深圳 Lumen 照明 Ltd.", "Kevin 王", "0755-2233 4455", "华南", "展会", "照明"),
]


def load_demo_pool(uow: UnitOfWork, now: datetime) -> None:
    """A demo pool for the whole demo company, with a few unassigned leads. Safe to run twice."""
    if uow.session.scalar(select(Pool.id).where(Pool.name == DEMO_POOL)) is not None:
        return
    root = uow.session.scalar(select(OrgUnit).where(OrgUnit.parent_id.is_(None)).order_by(OrgUnit.id).limit(1))
    if root is None:
        return
    pool = Pool(name=DEMO_POOL, unit_id=root.id, created_at=now)
    uow.session.add(pool)
    uow.session.flush()
    uow.session.add(PoolMember(pool_id=pool.id, unit_id=root.id))
    for manager in uow.session.scalars(select(User).where(User.role == Role.MANAGER)):
        uow.session.add(PoolMember(pool_id=pool.id, user_id=manager.id, is_admin=True))
    for offset, (company, contact, phone, region, source, industry) in enumerate(DEMO_LEADS):
        created = now - timedelta(minutes=len(DEMO_LEADS) - offset)
        lead = Lead(company=company, name_key=dedupe.normalise_company(company), contact_name=contact, phone=phone,
                    phone_key=phone_keys.phone_key(phone, root.phone_region or phone_keys.DEFAULT_REGION),
                    region=region, source=source, industry=industry,
                    status=S.UNASSIGNED, pool_id=pool.id, created_at=created, updated_at=created)
        uow.session.add(lead)
        uow.session.flush()
        record_event(uow, lead, "create", None, None, None, created, "demo")
