"""Logging filters."""

import logging

# The periodic upkeep tasks (the outbox's dispatcher runs every 2 s): their routine INFO lines (sent,
# received, succeeded) would fill the worker's log; warnings and errors still show.
QUIET_TASKS = (
    "invocations.dispatch", "invocations-dispatch",
    "invocations.recover_lost", "invocations-recover-lost",
    "invocations.expire_unconfirmed", "invocations-expire-unconfirmed",
)  # fmt: skip


class QuietPeriodicTasks(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return True
        message = record.getMessage()
        return not any(name in message for name in QUIET_TASKS)
