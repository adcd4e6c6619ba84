"""Stateless helpers shared by the legal addons (no business rules here)."""

import logging
import time

from psycopg2 import errorcodes
from psycopg2.errors import DeadlockDetected, SerializationFailure

from odoo.tools import SQL

_logger = logging.getLogger(__name__)

RETRYABLE_PGCODES = (errorcodes.SERIALIZATION_FAILURE, errorcodes.DEADLOCK_DETECTED)


def lock_rows(records, fnames=None, log_exceptions=True):
    """Lock the records' rows until the end of the database transaction.

    Pending writes of ``fnames`` (all fields when None) are flushed first, the rows are locked
    in id order (``FOR NO KEY UPDATE``: foreign keys to them stay free), then the cache is
    invalidated so that the caller re-reads what a concurrent transaction committed.

    :param records: the recordset whose rows to lock (nothing is done when empty)
    :param list fnames: the fields flushed and invalidated
    :param bool log_exceptions: False where lock or serialization errors are expected and
        retried by the caller
    :return: ``records``
    """
    if records:
        records.flush_recordset(fnames)
        records.env.cr.execute(
            SQL(
                "SELECT id FROM %s WHERE id IN %s ORDER BY id FOR NO KEY UPDATE",
                SQL.identifier(records._table),
                tuple(records.ids),
            ),
            log_exceptions=log_exceptions,
        )
        records.invalidate_recordset(fnames)
    return records


def retry_serialization(cr, func, attempts=5, delay=0.05):
    """Run ``func()`` and commit, retrying on serialization failures and deadlocks.

    Odoo's web and RPC layers retry such failures for requests; crons, webhook
    processors, threads and tests must do it themselves. ``func`` must be safe to run
    again from the start: everything it did is rolled back before each new attempt.

    :param cr: the cursor whose transaction ``func`` works in; it is committed on
        success and rolled back after each failed attempt
    :param func: callable without arguments
    :param int attempts: how many times to try at most
    :param float delay: base back-off in seconds (grows linearly, with the attempt number)
    :return: what ``func`` returned
    :raise: the last SerializationFailure/DeadlockDetected when every attempt failed;
        any other exception after rolling back
    """
    for attempt in range(1, attempts + 1):
        try:
            result = func()
            # This helper owns the transaction of a cron, thread or webhook processor.
            cr.commit()  # pylint: disable=invalid-commit
            return result
        except (SerializationFailure, DeadlockDetected):
            cr.rollback()
            if attempt == attempts:
                raise
            _logger.info("trust posting: serialization failure, retry %s/%s", attempt, attempts)
            time.sleep(delay * attempt)
        except Exception:
            cr.rollback()
            raise
    return None
