"""``--dist loadgroup`` under pytest 9: the tests of one ``xdist_group`` on one worker.

pytest-xdist (3.8) marks a grouped test for its scheduler by renaming it, ``test_id@group``
(``item._nodeid``), in the worker's ``pytest_collection_modifyitems``; pytest 9 no longer
reads ``_nodeid`` (``Node.nodeid`` is ``str(self._id)``), so the worker reports the plain
id, the scheduler sees no group, and the grouped tests are spread over the workers: the
browser tests then launched a Chromium on each worker, the demo group ran twice.

Registered as a plugin by ``tests/conftest.py``. On a worker of a ``loadgroup`` run, last
of the collection hooks (after :mod:`tests.browser` and :mod:`tests.demo_run` add their
groups), each grouped test gets the id xdist meant to give it, the way pytest 9 reads it.
A test already renamed (pytest 8, or an xdist that sets the id itself) is left as it is.
"""

from __future__ import annotations

import pytest
from _pytest.nodeid import NodeId


def group_of(item: pytest.Item) -> str | None:
    """The ``xdist_group`` name(s) of ``item``, joined as xdist joins them."""
    names = {
        str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
        for mark in item.iter_markers("xdist_group")
    }
    return "_".join(sorted(names)) or None


def renamed(nodeid: str) -> bool:
    """Whether ``nodeid`` already carries a group (xdist's test: ``@`` after any ``]``)."""
    return nodeid.rfind("@") > nodeid.rfind("]")


def pytest_configure(config: pytest.Config) -> None:
    """The marker, also without xdist (``-p no:xdist``), where ``--strict-markers`` would
    otherwise refuse the groups :mod:`tests.browser` and :mod:`tests.demo_run` add."""
    config.addinivalue_line("markers", "xdist_group(name): run with the group on one worker")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not hasattr(config, "workerinput") or not config.getvalue("loadgroup"):
        return
    for item in items:
        group = group_of(item)
        if group is None or renamed(item.nodeid):
            continue
        item._id = NodeId.parse(f"{item.nodeid}@{group}")
