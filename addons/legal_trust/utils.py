"""Stateless helpers shared by the legal addons (no business rules here)."""

import logging
import time

from psycopg2 import errorcodes
from psycopg2.errors import DeadlockDetected, SerializationFailure

from odoo.tools import SQL

_logger = logging.getLogger(__name__)

RETRYABLE_PGCODES = (errorcodes.SERIALIZATION_FAILURE, errorcodes.DEADLOCK_DETECTED)

#: Context key under which the trust gate marks the records it has let through.
TRUST_GATE_KEY = "legal_trust_gate"


class TrustGatePass:
    """What the trust gate lets through: these exact records, and nothing else.

    Put in the context by the code that owns a trust posting (the gate itself, the trust
    API), never by a caller: a context sent over RPC or in a URL holds JSON values only, so
    it can never carry an instance of this class, and a marker of other records covers
    nothing here. The same pattern as OCA ``queue_job``'s edit sentinel, narrowed to records.
    """

    __slots__ = ("model", "ids")

    def __init__(self, records):
        self.model = records._name
        self.ids = frozenset(records.ids)

    def covers(self, records):
        """Whether every record of ``records`` was let through by the gate."""
        return records._name == self.model and self.ids.issuperset(records.ids)


def trust_gate_pass(records):
    """Return ``records`` in a context where the gate's checks treat them as let through.

    Only for the trust gate and the trust API, on records they have just checked.
    """
    return records.with_context(**{TRUST_GATE_KEY: TrustGatePass(records)})


def trust_gate_passed(records):
    """Whether ``records`` were let through by the gate (see :class:`TrustGatePass`)."""
    marker = records.env.context.get(TRUST_GATE_KEY)
    return isinstance(marker, TrustGatePass) and marker.covers(records)


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
