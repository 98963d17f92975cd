"""The org tree (units with a materialised path) and its helpers; the org file is in `org_file`."""
from datetime import datetime

from sqlalchemy import Select, select

from db.models import OrgUnit, PlatformIdentity, User
from db.models.org import Role
from db.session import UnitOfWork


def ancestor_unit_ids(path: str) -> list[int]:
    """The unit's own id and its ancestors', root first, read from its materialised path "/1/4/9/"."""
    return [int(part) for part in path.strip("/").split("/") if part]


def subtree_user_ids(unit_path: str) -> Select:
    """SELECT of the ids of the users in the unit with that path and in every unit below it."""
    return select(User.id).join(OrgUnit, User.unit_id == OrgUnit.id).where(OrgUnit.path.startswith(unit_path))


def manages_unit(uow: UnitOfWork, user: User, unit_id: int) -> bool:
    """May change the unit's settings: a company admin; a manager whose unit is this unit or above it."""
    if user.role == Role.ADMIN:
        return True
    unit = uow.session.get(OrgUnit, unit_id)
    return user.role == Role.MANAGER and unit is not None and user.unit_id in ancestor_unit_ids(unit.path)


def unit_chain(uow: UnitOfWork, unit_id: int) -> list[OrgUnit]:
    """The unit and its ancestors, root first."""
    unit = uow.session.get(OrgUnit, unit_id)
    assert unit is not None
    ids = ancestor_unit_ids(unit.path)
    units = {u.id: u for u in uow.session.scalars(select(OrgUnit).where(OrgUnit.id.in_(ids)))}
    return [units[i] for i in ids if i in units]


def phone_region(uow: UnitOfWork, unit_id: int | None, default: str) -> str:
    """The company's phone region: its root unit's `phone_region`, else `default` (the setting
    DEFAULT_PHONE_REGION). A record outside the tree (unit_id None) belongs to the first company."""
    if unit_id is None:
        root = select(OrgUnit.phone_region).where(OrgUnit.parent_id.is_(None)).order_by(OrgUnit.id).limit(1)
    else:
        unit = uow.session.get(OrgUnit, unit_id)
        assert unit is not None
        root = select(OrgUnit.phone_region).where(OrgUnit.id == ancestor_unit_ids(unit.path)[0])
    return uow.session.scalar(root) or default


def subtree_unit_ids(uow: UnitOfWork, unit_id: int) -> list[int]:
    unit = uow.session.get(OrgUnit, unit_id)
    assert unit is not None
    return list(uow.session.scalars(select(OrgUnit.id).where(OrgUnit.path.startswith(unit.path))))


def units_by_name(uow: UnitOfWork, name: str) -> list[OrgUnit]:
    """Active units named `name` (any case); when none is, those whose name contains it."""
    fragment = name.strip().lower()
    units = uow.session.scalars(select(OrgUnit).where(OrgUnit.active.is_(True))).all()
    exact = [u for u in units if u.name.lower() == fragment]
    return exact or [u for u in units if fragment in u.name.lower()]


def set_path(uow: UnitOfWork, unit: OrgUnit) -> None:
    """Give the unit its path under its parent, and carry its whole subtree along when it moved."""
    parent = uow.session.get(OrgUnit, unit.parent_id) if unit.parent_id else None
    old_path, new_path = unit.path, f"{parent.path if parent else '/'}{unit.id}/"
    if old_path == new_path:
        return
    if old_path and old_path != "/":
        for descendant in uow.session.scalars(
            select(OrgUnit).where(OrgUnit.path.startswith(old_path), OrgUnit.id != unit.id)
        ):
            descendant.path = new_path + descendant.path.removeprefix(old_path)
    unit.path = new_path


def link_console_identity(uow: UnitOfWork, user_id: int, handle: str, now: datetime) -> None:
    """The console is a trusted local front end: each user may speak there as himself."""
    exists = uow.session.scalar(
        select(PlatformIdentity.id).where(
            PlatformIdentity.platform == "console", PlatformIdentity.platform_user_id == handle,
            PlatformIdentity.unlinked_at.is_(None),
        )
    )
    if not exists:
        uow.session.add(
            PlatformIdentity(
                platform="console", workspace="local", platform_user_id=handle,
                dm_chat_id=f"@{handle}", user_id=user_id, linked_at=now,
            )
        )
