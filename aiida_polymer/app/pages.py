"""One function per page notebook: load the profile, read ``?pk=`` from the page's URL, build the page's widget."""

from __future__ import annotations

from .common import load_profile, query_string
from .models import query_pk


def new_polymer(**kwargs):
    load_profile()
    from .new_polymer import NewPolymerWidget

    return NewPolymerWidget(**kwargs)


def follow(pk: int | None = None, **kwargs):
    load_profile()
    from .follow import FollowWidget

    return FollowWidget(pk if pk is not None else query_pk(query_string()), **kwargs)


def results(pk: int | None = None, **kwargs):
    load_profile()
    from .results import ResultsWidget

    return ResultsWidget(pk if pk is not None else query_pk(query_string()), **kwargs)


def database(**kwargs):
    load_profile()
    from .database_page import DatabaseWidget

    return DatabaseWidget(**kwargs)
