"""`wait` wake-ups go through the process's one subscription on the configured Redis (the embedded
server by default)."""

import threading
import uuid

from invocations import signals


def test_the_listener_subscribes_and_a_publish_wakes_the_waiter():
    listener = signals._get_listener()
    assert listener.ready.wait(30), "the listener never subscribed"
    name, event = signals.channel(uuid.uuid4()), threading.Event()
    listener.add(name, event)
    try:
        signals.publish(name.split(":", 1)[1])
        assert event.wait(30)
    finally:
        listener.remove(name, event)
