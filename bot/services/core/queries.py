"""Query pieces shared by the services that read for many people at once (a morning push for
10,000 reps): a statement that does not grow, or need compiling afresh, with the number of ids."""
from collections.abc import Sequence

from sqlalchemy import ColumnElement, Integer, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY

from db.session import UnitOfWork


def among(uow: UnitOfWork, column, ids: Sequence[int]) -> ColumnElement[bool]:
    """column IN ids: one array parameter on PostgreSQL (thousands of ids cost nothing to send), a list elsewhere."""
    if uow.dialect == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=ARRAY(Integer)))
    return column.in_(list(ids))
