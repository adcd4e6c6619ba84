# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

import json
import logging
import random
import time
from datetime import timedelta

import stripe
from psycopg2 import errors as pg_errors

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from odoo.addons.payment_stripe import utils as stripe_utils

from .. import const, utils

_logger = logging.getLogger(__name__)

CONCURRENCY_ERRORS = (
    pg_errors.SerializationFailure,
    pg_errors.LockNotAvailable,
    pg_errors.DeadlockDetected,
)


class LegalStripeEvent(models.Model):
    """Inbox of the Stripe events received by the webhook.

    Each Stripe event is stored once (unique Stripe event id), acknowledged at once, and
    processed later by a cron under a row lock, with retries on concurrency errors.
    """

    _name = "legal.stripe.event"
    _description = "Stripe Webhook Event"
    _order = "stripe_created desc, id desc"
    _check_company_auto = True
    _rec_name = "stripe_event_id"

    stripe_event_id = fields.Char(string="Stripe Event", required=True, readonly=True)
    event_type = fields.Char(string="Type", required=True, readonly=True, index=True)
    object_id = fields.Char(string="Stripe Object", readonly=True, index=True)
    livemode = fields.Boolean(readonly=True)
    stripe_created = fields.Integer(
        string="Created (Unix time)", readonly=True, help="When Stripe created the event."
    )
    provider_id = fields.Many2one(
        string="Provider",
        comodel_name="payment.provider",
        readonly=True,
        check_company=True,
        help="The provider whose webhook secret verified the event's signature.",
    )
    company_id = fields.Many2one(
        comodel_name="res.company", required=True, readonly=True, index=True
    )
    payload = fields.Text(readonly=True, groups="base.group_system")
    state = fields.Selection(
        selection=[
            ("pending", "To Process"),
            ("done", "Processed"),
            ("ignored", "Ignored"),
            ("error", "Failed"),
        ],
        default="pending",
        required=True,
        readonly=True,
        index=True,
    )
    attempts = fields.Integer(readonly=True)
    state_message = fields.Text(string="Message", readonly=True)
    processed_at = fields.Datetime(readonly=True)
    transaction_id = fields.Many2one(
        string="Transaction",
        comodel_name="payment.transaction",
        readonly=True,
        check_company=True,
        index="btree_not_null",
    )

    _sql_constraints = [
        (
            "stripe_event_id_uniq",
            "unique(stripe_event_id)",
            "A Stripe event is stored only once.",
        ),
    ]

    # === BUSINESS METHODS - RECEPTION === #

    @api.model
    def _legal_receive(self, payload, signature):
        """Verify a webhook delivery and store its event in the inbox.

        Fails closed: without any webhook signing secret on the Stripe providers nothing is
        stored and an error is logged. The provider is the one whose secret verifies the
        signature (several ``v1`` signatures accepted, timestamp within 300 s both ways).
        Events of a type we do not handle are acknowledged and ignored. A duplicate delivery
        of an event already stored does nothing.

        :param bytes payload: the raw request body
        :param str signature: the ``Stripe-Signature`` header
        :return: the HTTP status to answer: 200, 400 (bad signature or body) or 503 (no secret)
        :rtype: int
        """
        providers = (
            self.env["payment.provider"]
            .sudo()
            .search([("code", "=", "stripe"), ("state", "!=", "disabled")])
        )
        secrets = [
            (provider, stripe_utils.get_webhook_secret(provider))
            for provider in providers
            if stripe_utils.get_webhook_secret(provider)
        ]
        if not secrets:
            _logger.error(
                "Stripe webhook refused: no Stripe provider has a webhook signing secret; "
                "set it on the provider (nothing was processed)"
            )
            return 503
        provider = next(
            (
                p
                for p, secret in secrets
                if self._legal_signature_matches(payload, signature, secret)
            ),
            None,
        )
        if not provider:
            _logger.warning("Stripe webhook refused: invalid or outdated signature")
            return 400
        try:
            event = json.loads(payload)
            event_id, event_type = event["id"], event["type"]
            stripe_object = event["data"]["object"]
        except (ValueError, KeyError, TypeError):
            _logger.warning("Stripe webhook refused: malformed event body")
            return 400
        if event_type not in const.HANDLED_EVENTS:
            _logger.info("Stripe event %s of type %s ignored", event_id, event_type)
            return 200
        try:
            with self.env.cr.savepoint(flush=False):
                inserted = self._legal_insert(event, stripe_object, provider, payload)
        except pg_errors.SerializationFailure:
            # Under REPEATABLE READ, ON CONFLICT meets a row committed by a concurrent delivery
            # after our snapshot: the event is stored already.
            inserted = False
        if inserted:
            self.env.ref("legal_payments.ir_cron_process_stripe_events").sudo()._trigger()
        else:
            _logger.info("Stripe event %s already received", event_id)
        return 200

    @api.model
    def _legal_insert(self, event, stripe_object, provider, payload):
        """Insert the event unless its Stripe id is stored already; return whether it was."""
        self.env.cr.execute(
            SQL(
                """
            INSERT INTO legal_stripe_event (
                stripe_event_id, event_type, object_id, livemode, stripe_created, provider_id,
                company_id, payload, state, attempts, create_uid, write_uid, create_date,
                write_date)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'pending', 0, %s, %s,
                    NOW() AT TIME ZONE 'UTC', NOW() AT TIME ZONE 'UTC')
            ON CONFLICT (stripe_event_id) DO NOTHING
            RETURNING id
            """,
                event["id"],
                event["type"],
                stripe_object.get("id"),
                bool(event.get("livemode")),
                int(event.get("created") or 0),
                provider.id,
                provider.company_id.id,
                payload.decode() if isinstance(payload, bytes) else payload,
                self.env.uid,
                self.env.uid,
            ),
            log_exceptions=False,
        )
        return bool(self.env.cr.fetchone())

    @api.model
    def _legal_signature_matches(self, payload, signature, secret):
        try:
            utils.verify_webhook_signature(payload, signature, secret)
        except stripe.SignatureVerificationError:
            return False
        return True

    # === BUSINESS METHODS - PROCESSING === #

    @api.model
    def _cron_process_stripe_events(self, limit=500, auto_commit=True):
        """Process the pending events, oldest first, each in its own transaction.

        :param int limit: the maximum number of events to process in this run
        :param bool auto_commit: commit after each event (cron); False inside tests
        :return: the number of events handled in this run
        :rtype: int
        """
        self.env.cr.execute(
            SQL(
                "SELECT id FROM legal_stripe_event WHERE state = 'pending' "
                "ORDER BY stripe_created, id LIMIT %s",
                limit,
            )
        )
        event_ids = [row[0] for row in self.env.cr.fetchall()]
        if auto_commit:
            self.env.cr.commit()  # pylint: disable=invalid-commit
        deferred = []
        for event_id in event_ids:
            if self._legal_process_one(event_id, auto_commit=auto_commit) == "pending":
                deferred.append(event_id)
        # Events that waited for another one (a refund for its payment) get a second chance.
        for event_id in deferred if len(deferred) < len(event_ids) else ():
            self._legal_process_one(event_id, auto_commit=auto_commit)
        return len(event_ids)

    @api.model
    def _legal_process_one(self, event_id, auto_commit=True):
        """Lock one pending event, process it and record the outcome.

        Concurrency errors (serialization, lock, deadlock) restart the whole transaction, up to
        ``EVENT_MAX_ATTEMPTS`` times; an event locked by another worker is skipped. Other
        errors are recorded on the event, which is retried by later runs until it fails
        ``EVENT_MAX_ATTEMPTS`` times.

        :param int event_id: the `legal.stripe.event` id
        :param bool auto_commit: commit/rollback the cursor (cron); savepoints inside tests
        :return: the final state of the event, or None if another worker holds it
        :rtype: str | None
        """
        cr = self.env.cr
        for attempt in range(1, const.EVENT_MAX_ATTEMPTS + 1):
            try:
                if auto_commit:
                    result = self._legal_lock_and_process(event_id)
                    cr.commit()  # pylint: disable=invalid-commit
                else:
                    with cr.savepoint():
                        result = self._legal_lock_and_process(event_id)
                return result
            except CONCURRENCY_ERRORS as exc:
                if not auto_commit:
                    raise
                cr.rollback()
                self.env.invalidate_all()
                _logger.info(
                    "concurrency error on Stripe event %s (attempt %s): %s",
                    event_id,
                    attempt,
                    exc.pgcode,
                )
                time.sleep(random.uniform(0.01, 0.1 * attempt))
            except Exception as exc:  # noqa: BLE001 - recorded on the event, retried later
                if auto_commit:
                    cr.rollback()
                self.env.invalidate_all()
                _logger.exception("processing of Stripe event %s failed", event_id)
                return self._legal_record_failure(event_id, exc, auto_commit)
        return None

    def _legal_lock_and_process(self, event_id):
        self.env.cr.execute(
            SQL(
                "SELECT id FROM legal_stripe_event WHERE id = %s AND state = 'pending' "
                "FOR NO KEY UPDATE SKIP LOCKED",
                event_id,
            ),
            log_exceptions=False,
        )
        if not self.env.cr.fetchone():
            return None  # Processed, or being processed by another worker.
        event = self.browse(event_id)
        event.invalidate_recordset()
        outcome, message = event._legal_process()
        if outcome == "deferred" and event.create_date < fields.Datetime.now() - timedelta(
            days=const.EVENT_DEFER_DAYS
        ):
            outcome = "ignored"  # What it waited for never came.
        if outcome == "deferred":
            event.write({"state_message": message})
            return "pending"
        event.write(
            {
                "state": outcome,
                "state_message": message,
                "processed_at": fields.Datetime.now(),
            }
        )
        return outcome

    def _legal_record_failure(self, event_id, exc, auto_commit):
        event = self.browse(event_id)
        attempts = event.attempts + 1
        event.write(
            {
                "attempts": attempts,
                "state": "error" if attempts >= const.EVENT_MAX_ATTEMPTS else "pending",
                "state_message": str(exc)[:2000],
            }
        )
        if auto_commit:
            self.env.cr.commit()  # pylint: disable=invalid-commit
        return event.state

    def _legal_process(self):
        """Apply the event. Called with the event row locked.

        :return: ``(outcome, message)``, outcome being ``done``, ``ignored`` or ``deferred``
                 (not applicable yet: left pending for a later run)
        :rtype: tuple
        """
        self.ensure_one()
        event = json.loads(self.sudo().payload)
        stripe_object = event["data"]["object"]
        handler = getattr(self, "_legal_process_" + self.event_type.replace(".", "_"), None)
        if not handler:
            return "ignored", _("Event type not handled.")
        return handler(event, stripe_object)

    def _legal_link_transaction(self, tx):
        """Link the event to its transaction if the event's provider may speak for it.

        The provider is the one whose secret verified the signature: an event signed for one
        Stripe account never updates another account's transaction (several providers may
        share one account, and then one secret).

        :return: whether the transaction belongs to the event's Stripe account
        :rtype: bool
        """
        self.ensure_one()
        if not self._legal_mode_matches():
            return False
        if tx.provider_id != self.provider_id and stripe_utils.get_webhook_secret(
            tx.provider_id.sudo()
        ) != stripe_utils.get_webhook_secret(self.provider_id.sudo()):
            _logger.warning(
                "Stripe event %s signed for %s ignored: transaction %s belongs to %s",
                self.stripe_event_id,
                self.provider_id.name,
                tx.reference,
                tx.provider_id.name,
            )
            return False
        self.transaction_id = tx
        return True

    def _legal_refuse_mismatch(self, tx, data):
        """Refuse an event whose Stripe object is not the transaction's (see
        `payment.transaction._legal_stripe_data_mismatch`): logged, the firm told, the event
        failed with the reason, the transaction unchanged.

        :param tx: the locked `payment.transaction` linked to the event
        :param dict data: the notification data built from the event's object
        :return: the ``(outcome, message)`` of a refused event, or None when it matches
        """
        mismatch = tx._legal_stripe_data_mismatch(data)
        if not mismatch:
            return None
        tx._legal_refuse_stripe_data(mismatch)
        return "error", _("Refused: %s", mismatch)

    def _legal_refuse_charge_mismatch(self, tx, charge):
        """Refuse a charge (``charge.refunded``) that is not of the transaction's intent, or
        in another currency or mode: its refunds would be booked against this payment. (Each
        refund is then checked again against the refund transaction created for it.)

        :return: the ``(outcome, message)`` of a refused event, or None when it matches
        """
        intent = charge.get("payment_intent")
        currency = str(charge.get("currency") or "").upper()
        mismatch = None
        if not tx.provider_reference or intent != tx.provider_reference:
            mismatch = _(
                "the charge is of the intent %(got)s, not of this payment (%(expected)s)",
                got=intent,
                expected=tx.provider_reference or _("none"),
            )
        elif currency and currency != tx.currency_id.name:
            mismatch = _("the charge's currency %s is not the payment's", currency or _("none"))
        else:
            mismatch = tx._legal_stripe_mode_mismatch(charge)
        if not mismatch:
            return None
        tx._legal_refuse_stripe_data(mismatch)
        return "error", _("Refused: %s", mismatch)

    def _legal_mode_matches(self):
        """Whether the event's mode (live or test) is its provider's: a test event never
        changes a live provider's money, nor the reverse.

        :rtype: bool
        """
        self.ensure_one()
        live = self.provider_id.sudo().state == "enabled"
        if bool(self.livemode) != live:
            _logger.warning(
                "Stripe event %s ignored: livemode %s for %s in state %s",
                self.stripe_event_id,
                self.livemode,
                self.provider_id.name,
                self.provider_id.sudo().state,
            )
            return False
        return True

    def _legal_find_transaction(self, data):
        try:
            return (
                self.env["payment.transaction"]
                .sudo()
                ._get_tx_from_notification_data("stripe", data)
            )
        except ValidationError:
            return self.env["payment.transaction"]

    def _legal_process_payment_intent(self, event, payment_intent):
        tx = self._legal_find_transaction(
            {
                "reference": payment_intent.get("description"),
                "event_type": event["type"],
                "object_id": payment_intent["id"],
            }
        ) or self.env["payment.transaction"].sudo().search(
            [
                ("provider_reference", "=", payment_intent["id"]),
                ("provider_code", "=", "stripe"),
            ],
            limit=1,
        )
        if not tx:
            return "ignored", _("No transaction matches this PaymentIntent.")
        if not self._legal_link_transaction(tx):
            return "ignored", _("Signed for another Stripe account than the transaction's.")
        tx._legal_lock()
        if tx.tokenize and isinstance(payment_intent.get("payment_method"), str):
            payment_intent["payment_method"] = tx.provider_id._stripe_make_request(
                f'payment_methods/{payment_intent["payment_method"]}', method="GET"
            )
        data = {"reference": tx.reference}
        data.update(
            payment_intent=payment_intent, payment_method=payment_intent.get("payment_method")
        )
        refused = self._legal_refuse_mismatch(tx, data)
        if refused:
            return refused
        tx._handle_notification_data("stripe", data)
        if not tx.is_post_processed:
            tx._post_process()
        return "done", False

    _legal_process_payment_intent_processing = _legal_process_payment_intent
    _legal_process_payment_intent_amount_capturable_updated = _legal_process_payment_intent
    _legal_process_payment_intent_succeeded = _legal_process_payment_intent
    _legal_process_payment_intent_payment_failed = _legal_process_payment_intent
    _legal_process_payment_intent_canceled = _legal_process_payment_intent

    def _legal_process_setup_intent_succeeded(self, event, setup_intent):
        tx = self._legal_find_transaction(
            {
                "reference": setup_intent.get("description"),
                "event_type": event["type"],
                "object_id": setup_intent["id"],
            }
        )
        if not tx:
            return "ignored", _("No transaction matches this SetupIntent.")
        if not self._legal_link_transaction(tx):
            return "ignored", _("Signed for another Stripe account than the transaction's.")
        tx._legal_lock()
        refused = self._legal_refuse_mismatch(tx, {"setup_intent": setup_intent})
        if refused:
            return refused
        setup_intent["payment_method"] = tx.provider_id._stripe_make_request(
            f'payment_methods/{setup_intent["payment_method"]}', method="GET"
        )
        tx._handle_notification_data(
            "stripe",
            {
                "reference": tx.reference,
                "setup_intent": setup_intent,
                "payment_method": setup_intent["payment_method"],
            },
        )
        if not tx.is_post_processed:
            tx._post_process()
        return "done", False

    def _legal_process_charge_refunded(self, event, charge):
        """Create the refund transactions of a charge, once its payment is done.

        A refund received before the success of its payment is deferred: processing it first
        would prevent the payment from ever being posted.
        """
        tx = self._legal_find_transaction(
            {
                "reference": charge.get("description"),
                "event_type": event["type"],
                "object_id": charge["id"],
            }
        )
        if not tx:
            return "ignored", _("No transaction matches this charge.")
        if not self._legal_link_transaction(tx):
            return "ignored", _("Signed for another Stripe account than the transaction's.")
        tx._legal_lock()
        if tx.state != "done" or not tx.is_post_processed:
            return "deferred", _("Waiting for the payment to succeed before its refund.")
        refused = self._legal_refuse_charge_mismatch(tx, charge)
        if refused:
            return refused
        refunds = charge["refunds"]["data"]
        has_more = charge["refunds"].get("has_more")
        while has_more:
            more = tx.provider_id._stripe_make_request(
                "refunds",
                payload={
                    "charge": charge["id"],
                    "starting_after": refunds[-1]["id"],
                    "limit": 100,
                },
                method="GET",
            )
            refunds += more["data"]
            has_more = more["has_more"]
        done_refs = tx.child_transaction_ids.filtered(
            lambda child: child.operation == "refund"
        ).mapped("provider_reference")
        for refund in refunds:
            if refund["id"] in done_refs:
                continue
            amount = refund["amount"] / (10**tx.currency_id.decimal_places)
            refund_tx = tx._create_child_transaction(amount, is_refund=True)
            refund_tx._handle_notification_data(
                "stripe",
                {
                    "reference": refund_tx.reference,
                    "refund": refund,
                },
            )
        return "done", False

    def _legal_process_charge_refund_updated(self, event, refund):
        tx = self._legal_find_transaction(
            {
                "event_type": event["type"],
                "object_id": refund["id"],
            }
        )
        if not tx:
            return "deferred", _("Waiting for the refund transaction to be created.")
        if not self._legal_link_transaction(tx):
            return "ignored", _("Signed for another Stripe account than the transaction's.")
        tx._legal_lock()
        data = {"reference": tx.reference, "refund": refund}
        refused = self._legal_refuse_mismatch(tx, data)
        if refused:
            return refused
        tx._handle_notification_data("stripe", data)
        return "done", False

    def _legal_process_payout_paid(self, event, payout):
        """Book the transfer from the Stripe clearing account to the provider's payout bank."""
        if not self.provider_id:
            return "ignored", _("No provider for this payout.")
        if not self._legal_mode_matches():
            return "ignored", _("An event of the other mode (live or test) than its provider's.")
        move = self.provider_id._legal_book_payout(payout)
        return "done", _("Payout booked in %s.", move.display_name)

    def _legal_dispute_transaction(self, dispute):
        """The disputed payment's transaction, linked to this event.

        :return: ``(transaction, None)``, or an empty transaction and the ``(state, message)``
            with which the event is ignored
        """
        pi_id = dispute.get("payment_intent")
        Transaction = self.env["payment.transaction"].sudo()
        tx = (
            Transaction.search(
                [
                    ("provider_reference", "=", pi_id),
                    ("provider_code", "=", "stripe"),
                    ("operation", "!=", "refund"),
                ],
                limit=1,
            )
            if pi_id
            else Transaction
        )
        if not tx:
            return tx, ("ignored", _("No transaction matches this dispute."))
        if not self._legal_link_transaction(tx):
            return Transaction, (
                "ignored",
                _("Signed for another Stripe account than the transaction's."),
            )
        return tx, None

    def _legal_process_charge_dispute_created(self, event, dispute):
        """Take a disputed payment back: see `payment.transaction._legal_book_dispute`."""
        tx, ignored = self._legal_dispute_transaction(dispute)
        if ignored:
            return ignored
        tx._legal_lock()
        if tx.state != "done" or not tx.is_post_processed:
            return "deferred", _("Waiting for the payment to succeed before its dispute.")
        tx._legal_book_dispute(dispute)
        return "done", False

    def _legal_process_charge_dispute_closed(self, event, dispute):
        """Tell the firm of the outcome; funds returned on a won dispute come with a payout."""
        tx, ignored = self._legal_dispute_transaction(dispute)
        if ignored:
            return ignored
        tx._legal_notify_firm("dispute", _("The dispute is closed: %s.", dispute.get("status")))
        return "done", False
