"""Open and closed data: a campaign marked closed never leaves the site by ``export --public``."""

from __future__ import annotations

from aiida import orm

ACCESS = "data_access"  # the group extra: "closed" or "open" (absent: open)


def is_closed(group: orm.Group) -> bool:
    return group.base.extras.get(ACCESS, "open") == "closed"


def set_closed(group: orm.Group, closed: bool) -> None:
    group.base.extras.set(ACCESS, "closed" if closed else "open")
