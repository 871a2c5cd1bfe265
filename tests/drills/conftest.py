"""Fixtures for the fault drills: a counting upstream and the real stack over the test database."""

import pytest

from accounts.services import api_key_create
from tests.drills.stack import CountingUpstream, Stack, make_drill_tools


@pytest.fixture
def counting_upstream():
    server = CountingUpstream(delay=0.3)
    yield server
    server.close()


@pytest.fixture
def drill(tmp_path_factory, transactional_db, org, designer, counting_upstream):
    """``(stack, load arguments)``: started by the test (it chooses workers and environment)."""
    get_tool, post_tool = make_drill_tools(org, designer, counting_upstream.url)
    _, key = api_key_create(user=designer, name="drill")
    stacks = []

    def make(**kwargs) -> Stack:
        stack = Stack(tmp_path_factory.mktemp("drill"), counting_upstream, **kwargs)
        stacks.append(stack)
        return stack

    yield make, {"api_key": key, "get_tool": get_tool, "post_tool": post_tool}
    for stack in stacks:
        stack.stop()
