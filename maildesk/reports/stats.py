"""Percentiles computed inside the database, on SQLite and PostgreSQL alike.

PostgreSQL has percentile_cont. SQLite has no percentile function, so the same
continuous percentile is read off the sorted column: COUNT, then the one or two rows at
offset floor(p*(n-1)) with ORDER BY + LIMIT/OFFSET, interpolated. Per-group medians on
SQLite use ROW_NUMBER() over each group and average the middle row(s). Tickets are never
loaded into Python; at most two values per percentile are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Float, cast, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from maildesk.reports.model import Durations

Column = ColumnElement[Any] | InstrumentedAttribute[Any]  # a column or an ORM attribute


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def durations(session: Session, column: Column, where: Sequence[Column]) -> Durations:
    """Count, median and p90 of a non-null column over the rows matching `where`."""
    where = [*where, column.is_not(None)]
    if is_postgres(session):
        row = session.execute(select(
            func.count(column),
            func.percentile_cont(0.5).within_group(column),
            func.percentile_cont(0.9).within_group(column)).where(*where)).one()
        return Durations(int(row[0]), _float(row[1]), _float(row[2]))
    count = int(session.execute(select(func.count(column)).where(*where)).scalar_one())
    return Durations(count, _sqlite_percentile(session, column, where, count, 0.5),
                     _sqlite_percentile(session, column, where, count, 0.9))


def _sqlite_percentile(session: Session, column: Column, where: Sequence[Column],
                       count: int, p: float) -> float | None:
    if count == 0:
        return None
    position = p * (count - 1)
    low = math.floor(position)
    values = session.execute(select(column).where(*where).order_by(column)
                             .limit(2).offset(low)).scalars().all()
    if len(values) == 1 or position == low:
        return float(values[0])
    return float(values[0]) + (float(values[1]) - float(values[0])) * (position - low)


def group_medians(session: Session, group: Column, column: Column,
                  where: Sequence[Column]) -> dict[str, float]:
    """The median of `column` for each value of `group` (null groups and values skipped)."""
    where = [*where, column.is_not(None), group.is_not(None)]
    if is_postgres(session):
        rows = session.execute(select(group, func.percentile_cont(0.5).within_group(column))
                               .where(*where).group_by(group))
        return {key: float(value) for key, value in rows}
    ranked = select(group.label("g"), column.label("v"),
                    func.row_number().over(partition_by=group, order_by=column).label("rn"),
                    func.count().over(partition_by=group).label("n")).where(*where).subquery()
    # The middle row(s): 0-based positions floor((n-1)/2) and floor(n/2).
    middle = (ranked.c.rn - 1 == (ranked.c.n - 1) // 2) | (ranked.c.rn - 1 == ranked.c.n // 2)
    rows = session.execute(select(ranked.c.g, func.avg(cast(ranked.c.v, Float)))
                           .where(middle).group_by(ranked.c.g))
    return {key: float(value) for key, value in rows}


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
