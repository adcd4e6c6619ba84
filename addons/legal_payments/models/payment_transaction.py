# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

import logging
from datetime import timedelta

import stripe
from markupsafe import Markup
from psycopg2 import errors as pg_errors

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import float_compare

from odoo.addons.legal_trust.utils import lock_rows
from odoo.addons.payment import utils as payment_utils

from .. import const

_logger = logging.getLogger(__name__)


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"

    legal_matter_id = fields.Many2one(
        string="Matter",
        comodel_name="legal.matter",
        readonly=True,
        index="btree_not_null",
        check_company=True,
        help="The matter credited in trust by this deposit.",
    )
    legal_trust_move_id = fields.Many2one(
        string="Trust Deposit Entry", comodel_name="account.move", readonly=True, copy=False
    )
    legal_fee_amount = fields.Monetary(
        string="Stripe Fee", readonly=True, copy=False, currency_field="company_currency_id"
    )
    company_currency_id = fields.Many2one(related="company_id.currency_id")
    legal_fee_state = fields.Selection(
        string="Fee Booking",
        selection=[
            ("booked", "Booked"),
            ("none", "No Fee"),
            ("unavailable", "Not Available Yet"),
        ],
        readonly=True,
        copy=False,
    )
    legal_fee_move_id = fields.Many2one(
        string="Fee Entry", comodel_name="account.move", readonly=True, copy=False
    )
    legal_dispute_move_id = fields.Many2one(
        string="Dispute Entry", comodel_name="account.move", readonly=True, copy=False
    )
    legal_replenish_move_id = fields.Many2one(
        string="Trust Replenishment Entry",
        comodel_name="account.move",
        readonly=True,
        copy=False,
    )

    legal_authorization_id = fields.Many2one(
        string="Authorization to Charge",
        comodel_name="legal.payment.authorization",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="The client's recorded authorization this charge relied on.",
    )

    # === BUSINESS METHODS - CHECKS === #

    @api.model
    def _legal_check_payment_request(
        self, provider, amount, currency, partner, invoices, matter=None
    ):
        """Re-check, on the server, what a client asks to pay before any transaction exists.

        :param provider: the sudoed `payment.provider` that would process the payment
        :param float amount: the amount the client asked to pay
        :param currency: the `res.currency` asked
        :param partner: the paying `res.partner`
        :param invoices: the `account.move` invoices paid (possibly empty)
        :param matter: the `legal.matter` credited in trust, for a trust deposit
        :return: None
        :raise ValidationError: invoices through a trust provider, a deposit through an
            operating provider, another currency or partner, more than the residual, a
            non-positive amount
        """
        if provider.legal_is_trust and invoices:
            raise ValidationError(_("Invoices cannot be paid through a trust account."))
        if matter and not provider.legal_is_trust:
            raise ValidationError(_("Trust deposits are only accepted through a trust account."))
        if provider.legal_is_trust and not matter:
            raise ValidationError(_("This payment method only accepts trust deposits."))
        if amount is None or currency.compare_amounts(amount, 0) <= 0:
            raise ValidationError(_("The amount to pay must be positive."))
        commercial = partner.commercial_partner_id
        if invoices:
            invoices = invoices.sudo()
            if any(inv.state != "posted" or inv.move_type != "out_invoice" for inv in invoices):
                raise ValidationError(_("Only posted customer invoices can be paid online."))
            if invoices.currency_id != currency:
                raise ValidationError(_("The payment must be in the invoice's currency."))
            if invoices.commercial_partner_id != commercial:
                raise ValidationError(_("This invoice belongs to another customer."))
            if invoices.company_id != provider.company_id:
                raise ValidationError(_("This payment method belongs to another company."))
            residual = sum(invoices.mapped("amount_residual"))
            if currency.compare_amounts(amount, residual) > 0:
                raise ValidationError(_("The amount exceeds what is due on the invoice."))
        if matter:
            matter = matter.sudo()
            if matter.currency_id != currency:
                raise ValidationError(_("The deposit must be in the matter's currency."))
            if matter.partner_id.commercial_partner_id != commercial:
                raise ValidationError(_("This matter belongs to another client."))
            if matter.company_id != provider.company_id or matter.state != "open":
                raise ValidationError(_("This matter does not accept deposits."))

    # === BUSINESS METHODS - LOCKING === #

    def _legal_lock(self):
        """Lock the transactions' rows until the end of the database transaction.

        Pending ORM writes are flushed first and the cache is invalidated after, so that the
        caller re-reads the state committed by a concurrent worker. Under REPEATABLE READ, a row
        changed by a transaction committed after ours started raises SerializationFailure,
        which the caller retries.
        """
        return lock_rows(self, log_exceptions=False)  # concurrency errors are retried

    def _handle_notification_data(self, provider_code, notification_data):
        """Override of `payment` to lock the Stripe transaction, then check Stripe's data
        against it before updating it.

        The return route, the status poll, the webhook processor, token payments, captures,
        voids and refunds all go through here: the second one to come waits for the lock, then
        sees the new state. Data that is not about this transaction (another intent, amount,
        currency or account, e.g. the id of a small intent given to the return route with the
        reference of a large transaction) is refused: logged, the firm told, the transaction
        left as it was and nothing booked.

        :return: the transaction found
        """
        if provider_code != "stripe":
            return super()._handle_notification_data(provider_code, notification_data)
        tx = self._get_tx_from_notification_data(provider_code, notification_data)
        tx._legal_lock()
        mismatch = tx._legal_stripe_data_mismatch(notification_data)
        if mismatch:
            tx._legal_refuse_stripe_data(mismatch)
            return tx
        tx._process_notification_data(notification_data)
        return tx

    # === BUSINESS METHODS - STRIPE DATA CHECKS === #

    def _legal_stripe_data_mismatch(self, notification_data):
        """Say what, in Stripe data about to update this transaction, is not this transaction's.

        The intent must be the one created for the transaction (its id is the transaction's
        `provider_reference`, set when the intent is created), for the same amount in minor
        units and the same currency, from the provider's mode (live or test). A refund must be
        of the transaction's amount and currency, of its source payment's intent, and once
        known, the same refund. A SetupIntent (validation) must be the one created for it.

        :param dict notification_data: the data built from Stripe's objects
            (``payment_intent``, ``setup_intent`` or ``refund``)
        :return: the reason to refuse it, or None when it matches
        :rtype: str | None
        """
        self.ensure_one()
        if self.operation == "refund":
            return self._legal_stripe_refund_mismatch(notification_data.get("refund"))
        key = "setup_intent" if self.operation == "validation" else "payment_intent"
        intent = notification_data.get(key)
        if not isinstance(intent, dict):
            return _("Stripe sent no %s for this transaction.", key)
        if not self.provider_reference or intent.get("id") != self.provider_reference:
            return _(
                "the intent %(got)s is not the one created for this transaction (%(expected)s)",
                got=intent.get("id"),
                expected=self.provider_reference or _("none"),
            )
        mismatch = self._legal_stripe_mode_mismatch(intent)
        if mismatch or self.operation == "validation":
            return mismatch
        return self._legal_stripe_amount_mismatch(intent)

    def _legal_stripe_refund_mismatch(self, refund):
        """See `_legal_stripe_data_mismatch`, for the refund object of a refund transaction.

        :param dict refund: the Stripe Refund object
        :rtype: str | None
        """
        if not isinstance(refund, dict):
            return _("Stripe sent no refund for this refund transaction.")
        if self.provider_reference and refund.get("id") != self.provider_reference:
            return _(
                "the refund %(got)s is not this transaction's (%(expected)s)",
                got=refund.get("id"),
                expected=self.provider_reference,
            )
        source_intent = self.source_transaction_id.provider_reference
        if refund.get("payment_intent") and refund["payment_intent"] != source_intent:
            return _(
                "the refund is of the intent %(got)s, not of the payment refunded (%(expected)s)",
                got=refund["payment_intent"],
                expected=source_intent or _("none"),
            )
        return self._legal_stripe_mode_mismatch(refund) or self._legal_stripe_amount_mismatch(
            refund, sign=-1
        )

    def _legal_stripe_amount_mismatch(self, stripe_object, sign=1):
        """Compare a Stripe object's amount (minor units) and currency with the transaction's.

        :param dict stripe_object: a PaymentIntent or a Refund
        :param int sign: -1 for a refund (a refund transaction's amount is negative)
        :rtype: str | None
        """
        expected = payment_utils.to_minor_currency_units(sign * self.amount, self.currency_id)
        if stripe_object.get("amount") != expected:
            return _(
                "Stripe's amount %(got)s is not the transaction's %(expected)s (minor units)",
                got=stripe_object.get("amount"),
                expected=expected,
            )
        currency = str(stripe_object.get("currency") or "").upper()
        if currency != self.currency_id.name:
            return _(
                "Stripe's currency %(got)s is not the transaction's %(expected)s",
                got=currency or _("none"),
                expected=self.currency_id.name,
            )
        return None

    def _legal_stripe_mode_mismatch(self, stripe_object):
        """Refuse an object of a live account for a test provider, and the reverse.

        :rtype: str | None
        """
        if "livemode" not in stripe_object:
            return None
        live = self.provider_id.sudo().state == "enabled"
        if bool(stripe_object["livemode"]) != live:
            return _("a Stripe object of the other mode (live or test) than the provider's")
        return None

    def _legal_refuse_stripe_data(self, reason):
        """Refuse Stripe data that is not this transaction's: logged, the firm told.

        Nothing is written to the transaction, nothing is booked.

        :param str reason: what did not match
        """
        self.ensure_one()
        _logger.error(
            "Stripe data refused for transaction %s (%s, %s %s): %s",
            self.reference,
            self.provider_id.name,
            self.amount,
            self.currency_id.name,
            reason,
        )
        self._legal_notify_firm("refused", reason)

    def _stripe_create_intent(self):
        """Override of `payment_stripe` to remember the intent's id at once.

        Events of an intent can then be matched to the transaction by the intent id even when
        the intent carries no description (the merchant reference).
        """
        intent = super()._stripe_create_intent()
        if intent and intent.get("id") and not self.provider_reference:
            self.provider_reference = intent["id"]
        return intent

    # === BUSINESS METHODS - POST-PROCESSING === #

    def _post_process(self):
        """Override of `payment` to post-process each transaction exactly once.

        The transactions are locked, then re-read: those post-processed meanwhile by the status
        poll, the return route or a cron are skipped. After the standard post-processing, the
        Stripe fee is booked and the firm is told.
        """
        txs = self._legal_lock().filtered(lambda tx: not tx.is_post_processed)
        if not txs:
            return None
        res = super(PaymentTransaction, txs)._post_process()
        for tx in txs.filtered(lambda t: t.provider_code == "stripe"):
            if tx.operation in ("validation", "refund"):
                continue
            if tx.state == "pending" and tx.provider_id.legal_is_trust:
                # ACH processing: in the trust ledger, not available until it clears.
                tx._legal_post_trust_deposit(cleared=False)
            elif tx.state == "done":
                if not tx.legal_fee_state:
                    tx._legal_book_stripe_fee()
                tx._legal_notify_firm("paid")
            elif tx.state in ("error", "cancel") and tx.legal_trust_move_id:
                tx._legal_reverse_trust_deposit()
                tx._legal_notify_firm("ach_failed", tx.state_message)
            elif tx.state == "error" and tx.payment_method_id.code == "ach_direct_debit":
                tx._legal_notify_firm("ach_failed", tx.state_message)
        return res

    def _create_payment(self, **extra_create_values):
        """Override of `account_payment` to route the money by the provider's kind.

        A trust deposit is credited to the matter's trust ledger through the legal_trust API,
        never to receivable: no `account.payment` is created. An operating payment is the
        standard one, its outstanding account being the Stripe clearing account, the
        default account of the provider's journal (docs/accounting.md, entry 6: Dr SOC, Cr AR); it
        pays the invoices exactly, a card surcharge being booked apart
        (`_legal_book_surcharge`).
        """
        self.ensure_one()
        if self.operation == "refund":
            # Refunds are booked by their own flow (legal_refunds), never as trust deposits.
            return super()._create_payment(**extra_create_values)
        if self.provider_id.legal_is_trust:
            # Any provider paying into a trust journal is a trust provider (Stripe's, or the
            # demo provider in tests and demos).
            self._legal_post_trust_deposit(cleared=True)
            return self.env["account.payment"]
        if self.provider_code == "stripe":
            self.provider_id._legal_sync_outstanding_account()
        currency = self.currency_id
        if currency.is_zero(self.legal_surcharge_amount) or "amount" in extra_create_values:
            return super()._create_payment(**extra_create_values)
        # A card surcharge is not paid to the invoices: the payment is the amount charged
        # less the surcharge, and the surcharge is its own income entry.
        payment = super()._create_payment(
            amount=currency.round(self.amount - self.legal_surcharge_amount),
            **extra_create_values,
        )
        if payment:
            self._legal_book_surcharge(
                payment.outstanding_account_id or self.provider_id.journal_id.default_account_id
            )
        return payment

    def _legal_post_trust_deposit(self, cleared=True):
        """Credit the matter's trust ledger with the gross amount (docs/accounting.md, entry 5/7).

        Idempotent: a deposit already posted is only marked cleared when ``cleared``.

        :param bool cleared: False while an ACH debit is processing
        :return: the trust deposit `account.move`
        """
        self.ensure_one()
        matter = self.legal_matter_id.sudo()
        if not matter:
            raise ValidationError(_("The trust deposit %s has no matter.", self.reference))
        if self.legal_trust_move_id:
            if cleared:
                matter.trust_clear_deposit(self.legal_trust_move_id.id)
            return self.legal_trust_move_id
        move_id = matter.trust_deposit(
            self.amount,
            journal_id=self.provider_id.journal_id.id,
            memo=_(
                "Online deposit %(ref)s (%(provider)s)",
                ref=self.reference,
                provider=self.provider_id.name,
            ),
            cleared=cleared,
        )
        self.legal_trust_move_id = move_id
        return self.legal_trust_move_id

    def _legal_reverse_trust_deposit(self):
        """Reverse the pending trust deposit of a failed ACH debit (docs/accounting.md, entry 7).

        It can never overdraw: the deposit was never available. Idempotent.
        """
        self.ensure_one()
        move = self.legal_trust_move_id
        if not move or move.reversal_move_ids.filtered(lambda m: m.state == "posted"):
            return
        self.legal_matter_id.sudo().trust_reverse(
            move.id, memo=_("Failed bank payment %s", self.reference)
        )

    # === BUSINESS METHODS - FEES === #

    @api.model
    def _cron_legal_book_missing_fees(self, limit=200, auto_commit=True):
        """Book the Stripe fees that were not available when their payments succeeded.

        :param int limit: the maximum number of transactions to look at
        :param bool auto_commit: commit after each transaction (cron); False inside tests
        """
        since = fields.Datetime.now() - timedelta(days=7)
        txs = self.search(
            [
                ("provider_code", "=", "stripe"),
                ("state", "=", "done"),
                ("legal_fee_state", "=", "unavailable"),
                ("last_state_change", ">=", since),
            ],
            limit=limit,
        )
        for tx in txs:
            try:
                with self.env.cr.savepoint():
                    tx._legal_lock()
                    if tx.legal_fee_state == "unavailable":
                        tx._legal_book_stripe_fee()
            except Exception:  # noqa: BLE001 - logged, retried by the next run
                _logger.exception("booking the Stripe fee of %s failed", tx.reference)
            if auto_commit:
                self.env.cr.commit()  # pylint: disable=invalid-commit

    def _legal_fetch_balance_transaction(self):
        """Read the balance transaction of the payment's charge with the official SDK.

        :return: the Stripe BalanceTransaction, or None when Stripe has none (yet)
        :rtype: stripe.BalanceTransaction | None
        """
        self.ensure_one()
        client = self.provider_id._legal_stripe_client()
        intent = client.v1.payment_intents.retrieve(self.provider_reference).to_dict()
        charge_id = intent.get("latest_charge")
        if isinstance(charge_id, dict):
            charge_id = charge_id.get("id")
        if not charge_id:
            charges = intent.get("charges") or {}
            data = charges.get("data") or []
            charge_id = data and data[0].get("id")
        if not charge_id:
            return None
        charge = client.v1.charges.retrieve(charge_id).to_dict()
        bt_id = charge.get("balance_transaction")
        if not bt_id:
            return None
        if not isinstance(bt_id, str):
            bt_id = bt_id["id"]
        return client.v1.balance_transactions.retrieve(bt_id).to_dict()

    def _legal_book_stripe_fee(self):
        """Book the Stripe fee of a successful payment (docs/accounting.md, entries 5 and 6).

        Operating: Dr card fees, Cr Stripe operating clearing. Trust: Dr card fees, Cr Stripe
        trust clearing, then the replenishment with the firm's money, Dr trust bank, Cr
        operating bank, so that no client money pays the fee. When Stripe has no balance
        transaction yet, the fee is left "not available" (logged) and the payment stands.
        """
        self.ensure_one()
        try:
            balance_tx = self._legal_fetch_balance_transaction()
        except (stripe.StripeError, KeyError, TypeError) as exc:
            _logger.warning("Stripe fee of %s not available: %s", self.reference, exc)
            balance_tx = None
        if balance_tx is None:
            self.legal_fee_state = "unavailable"
            return
        currency = (
            self.env["res.currency"].search(
                [("name", "=", str(balance_tx["currency"]).upper())], limit=1
            )
            or self.company_id.currency_id
        )
        fee = (balance_tx.get("fee") or 0) / (10**currency.decimal_places)
        company = self.company_id
        if currency != company.currency_id:
            fee = currency._convert(
                fee, company.currency_id, company, fields.Date.context_today(self)
            )
        if float_compare(fee, 0, precision_rounding=company.currency_id.rounding) <= 0:
            self.legal_fee_state = "none"
            return
        self.legal_fee_amount = fee
        self.legal_fee_move_id = self._legal_post_fee_entry(fee)
        if self.provider_id.legal_is_trust:
            self.legal_replenish_move_id = self._legal_post_replenishment(fee)
        self.legal_fee_state = "booked"

    def _legal_post_fee_entry(self, fee):
        journal = self.provider_id.journal_id
        label = _("Stripe fee %s", self.reference)
        move = (
            self.env["account.move"]
            .sudo()
            .create(
                {
                    "move_type": "entry",
                    "journal_id": journal.id,
                    "company_id": self.company_id.id,
                    "ref": label,
                    "line_ids": [
                        fields.Command.create(
                            {
                                "name": label,
                                "account_id": self.company_id._legal_card_fee_account().id,
                                "debit": fee,
                                "partner_id": self.partner_id.commercial_partner_id.id,
                            }
                        ),
                        fields.Command.create(
                            {
                                "name": label,
                                "account_id": journal.default_account_id.id,
                                "credit": fee,
                                "partner_id": self.partner_id.commercial_partner_id.id,
                            }
                        ),
                    ],
                }
            )
        )
        move.action_post()
        return move

    def _legal_post_replenishment(self, amount):
        """Transfer ``amount`` of the firm's money from operating to trust: Dr TB, Cr OB."""
        trust_bank = self.provider_id.legal_payout_journal_id
        operating = self.company_id._legal_operating_journal()
        if not trust_bank:
            raise ValidationError(
                _("Set the payout bank journal of %s to replenish trust.", self.provider_id.name)
            )
        label = _("Trust replenishment of the card fee %s", self.reference)
        move = (
            self.env["account.move"]
            .sudo()
            .create(
                {
                    "move_type": "entry",
                    "journal_id": operating.id,
                    "company_id": self.company_id.id,
                    "ref": label,
                    "line_ids": [
                        fields.Command.create(
                            {
                                "name": label,
                                "account_id": trust_bank.default_account_id.id,
                                "debit": amount,
                            }
                        ),
                        fields.Command.create(
                            {
                                "name": label,
                                "account_id": operating.default_account_id.id,
                                "credit": amount,
                            }
                        ),
                    ],
                }
            )
        )
        move.action_post()
        return move

    # === BUSINESS METHODS - DISPUTES === #

    def _legal_book_dispute(self, dispute):
        """Book what Stripe took for a dispute (docs/accounting.md, entry 8) and tell the firm.

        Operating payment: Dr receivable (client), Dr card fees (dispute fee), Cr Stripe
        operating clearing; the payment is unreconciled from the invoice, which is re-opened.
        Trust deposit: the client's trust ledger gives back what is still available to it
        (Dr trust liability, Cr Stripe trust clearing, through the gate); the rest and the fee
        are the firm's (Dr receivable from the client or card fees, Cr Stripe trust clearing),
        and the firm replenishes trust (Dr trust bank, Cr operating bank). No other client's
        money is ever used. The matter is flagged.

        :param dict dispute: the Stripe Dispute object (``charge.dispute.created``)
        :return: None
        """
        self.ensure_one()
        if self.legal_dispute_move_id:
            return
        company = self.company_id
        currency = self.currency_id
        amount = currency.round(dispute["amount"] / (10**currency.decimal_places))
        fee = sum(bt.get("fee", 0) for bt in dispute.get("balance_transactions") or []) / (
            10**company.currency_id.decimal_places
        )
        client = self.partner_id.commercial_partner_id
        receivable = client.with_company(company).property_account_receivable_id
        journal = self.provider_id.journal_id
        label = _(
            "Stripe dispute %(dispute)s on %(ref)s", dispute=dispute["id"], ref=self.reference
        )
        covered = 0.0
        if self.provider_id.legal_is_trust:
            matter = self.legal_matter_id.sudo()
            matter.invalidate_recordset()
            covered = max(0.0, min(amount, matter.trust_available))
            if currency.compare_amounts(covered, 0) > 0:
                matter.trust_disburse(covered, client.id, journal_id=journal.id, memo=label)
            matter.legal_dispute_flag = True
        shortfall = currency.round(amount - covered)
        lines = []
        if currency.compare_amounts(shortfall, 0) > 0:
            account = (
                receivable
                if company.legal_dispute_charge_client
                else company._legal_card_fee_account()
            )
            lines.append({"account_id": account.id, "debit": shortfall})
        if company.currency_id.compare_amounts(fee, 0) > 0:
            lines.append({"account_id": company._legal_card_fee_account().id, "debit": fee})
        total = currency.round(shortfall + fee)
        if lines:
            lines.append({"account_id": journal.default_account_id.id, "credit": total})
            move = (
                self.env["account.move"]
                .sudo()
                .create(
                    {
                        "move_type": "entry",
                        "journal_id": journal.id,
                        "company_id": company.id,
                        "ref": label,
                        "line_ids": [
                            fields.Command.create({"name": label, "partner_id": client.id, **vals})
                            for vals in lines
                        ],
                    }
                )
            )
            move.action_post()
            self.legal_dispute_move_id = move
            if self.provider_id.legal_is_trust and currency.compare_amounts(total, 0) > 0:
                self._legal_post_replenishment(total)
            elif self.payment_id and currency.compare_amounts(shortfall, 0) > 0:
                self._legal_reopen_invoices(move)
        self._legal_notify_firm(
            "dispute",
            _(
                "Stripe took %(amount)s and a fee of %(fee)s; %(covered)s came from the client's "
                "trust ledger.",
                amount=currency.format(amount),
                fee=company.currency_id.format(fee),
                covered=currency.format(covered),
            ),
        )

    def _legal_reopen_invoices(self, dispute_move):
        """Unreconcile the disputed payment from its invoices and match it with the dispute's
        receivable line instead: the invoices are due again."""
        payment_lines = self.payment_id.move_id.line_ids.filtered(
            lambda line: line.account_id.account_type == "asset_receivable"
        )
        payment_lines.remove_move_reconcile()
        dispute_lines = dispute_move.line_ids.filtered(
            lambda line: line.account_id in payment_lines.account_id
        )
        (payment_lines + dispute_lines).reconcile()

    # === BUSINESS METHODS - NOTIFICATIONS === #

    def _legal_responsible_user(self):
        self.ensure_one()
        invoice = self.invoice_ids[:1]
        return (
            invoice.invoice_user_id
            or self.legal_matter_id.user_id
            or self.env.ref("base.user_admin", raise_if_not_found=False)
        )

    def _legal_notify_firm(self, kind, message=None):
        """Tell the firm at once: a note in the chatter of the invoice or matter, and an e-mail
        to the responsible user.

        :param str kind: ``paid``, ``ach_failed``, ``dispute`` or ``refused`` (Stripe data
            that was not the transaction's)
        :param str message: an extra explanation
        """
        self.ensure_one()
        titles = {
            "paid": _("Payment received: %(amount)s from %(partner)s (%(ref)s)"),
            "ach_failed": _("Bank payment failed: %(amount)s from %(partner)s (%(ref)s)"),
            "dispute": _("Payment disputed: %(amount)s from %(partner)s (%(ref)s)"),
            "refused": _(
                "Payment data refused: %(amount)s from %(partner)s (%(ref)s) was NOT updated "
                "nor booked"
            ),
        }
        amount = self.currency_id.format(self.amount)
        subject = titles[kind] % {
            "amount": amount,
            "partner": self.partner_id.display_name,
            "ref": self.reference,
        }
        body = Markup("<p>%s</p>") % subject
        if message:
            body += Markup("<p>%s</p>") % message
        documents = self.invoice_ids or self.legal_matter_id
        for document in documents.sudo():
            document.message_post(body=body, subtype_xmlid="mail.mt_note")
        user = self._legal_responsible_user()
        if user and user.email:
            self.env["mail.mail"].sudo().create(
                {
                    "subject": subject,
                    "body_html": body,
                    "email_to": user.email_formatted,
                    "email_from": self.company_id.email_formatted or user.email_formatted,
                    "model": documents[:1]._name if documents else self._name,
                    "res_id": documents[:1].id if documents else self.id,
                    "auto_delete": False,
                }
            )

    # === BUSINESS METHODS - AUTHORIZATION TO CHARGE === #

    def _legal_authorization_scope(self):
        """Return what this charge is for, as `(scope, matter, plan)`.

        Overridden where a charge has a more precise purpose (a payment plan instalment).
        """
        self.ensure_one()
        if self.legal_plan_instalment_id:
            return "payment_plan", None, self.legal_plan_instalment_id.plan_id
        if self.legal_matter_id:
            return "trust_topup", self.legal_matter_id, None
        return "invoices", None, None

    def _legal_check_authorization(self):
        """Refuse to charge a stored payment method without an authorization that covers it.

        Charges made with the client at the keyboard (`online_token` created by the portal's
        transaction route for the logged-in client owning the method, which marks the charge
        with `const.CLIENT_AT_KEYBOARD_SENTINEL`) are the client's own act; every other token
        charge (`offline`: payment plans, top-ups, charges started by the firm, and an
        `online_token` charge made by any other path) needs an authorization in force for this
        method, scope and amount.

        :raise UserError: when the token belongs to another client or nothing covers the charge
        """
        self.ensure_one()
        if not self.token_id:
            return
        if self.token_id.partner_id.commercial_partner_id != (
            self.partner_id.commercial_partner_id
        ):
            raise UserError(_("This payment method belongs to another client."))
        if (
            self.operation == "online_token"
            and self.env.context.get(const.CLIENT_AT_KEYBOARD_CONTEXT_KEY)
            is const.CLIENT_AT_KEYBOARD_SENTINEL
        ):
            return
        scope, matter, plan = self._legal_authorization_scope()
        authorization = self.env["legal.payment.authorization"]._legal_find_covering(
            self.token_id, self.amount, self.currency_id, scope, matter=matter, plan=plan
        )
        self.sudo().legal_authorization_id = authorization

    def _send_payment_request(self):
        """Override of `payment` to check the authorization before any token charge."""
        self._legal_check_authorization()
        return super()._send_payment_request()

    # === CARD SURCHARGE === #

    legal_surcharge_amount = fields.Monetary(
        string="Card Surcharge",
        readonly=True,
        copy=False,
        help="The part of the amount charged that is the operating provider's card surcharge: "
        "booked as income, not paid to the invoice.",
    )
    legal_surcharge_move_id = fields.Many2one(
        string="Surcharge Entry", comodel_name="account.move", readonly=True, copy=False
    )

    # === CRUD METHODS === #

    @api.model_create_multi
    def create(self, vals_list):
        """Override of `payment` to add the card surcharge to the amount charged.

        The surcharge is always computed here, on the server, from the amount asked (never
        from a surcharge in the values): the transaction charges the amount plus the surcharge
        and keeps the surcharge apart. Then the transaction gets a reference still free, even
        when a concurrent request took the one computed for it.
        """
        for vals in vals_list:
            vals["legal_surcharge_amount"] = 0.0
            surcharge = self._legal_surcharge_for_values(vals)
            if surcharge:
                currency = self.env["res.currency"].browse(vals["currency_id"])
                vals["amount"] = currency.round(vals["amount"] + surcharge)
                vals["legal_surcharge_amount"] = surcharge
        if len(vals_list) != 1 or not vals_list[0].get("reference"):
            return super().create(vals_list)
        # A reference is the document's name, numbered after the transactions this database
        # transaction can see: one committed meanwhile by a concurrent request (two clients
        # paying the same matter or invoice at once) has the same reference, and the unique
        # index refuses ours ("Reference must be unique!"). The next number is then tried.
        vals = vals_list[0]
        for attempt in range(1, const.REFERENCE_ATTEMPTS + 1):
            try:
                with self.env.cr.savepoint():
                    return super().create([vals])
            except pg_errors.UniqueViolation as exc:
                if (
                    exc.diag.constraint_name != "payment_transaction_reference_uniq"
                    or attempt == const.REFERENCE_ATTEMPTS
                ):
                    raise
                self.env.invalidate_all()
                _logger.info("transaction reference %s taken meanwhile", vals["reference"])
                vals = dict(vals, reference=self._legal_next_reference(vals["reference"]))
        return None  # unreachable: the last attempt returns or raises

    def write(self, vals):
        """Override of `payment` to keep the terms of a transaction as they were created.

        What is paid, in what currency, by whom, through which provider, for which invoices or
        matter, under which reference (`const.TRANSACTION_TERMS_FIELDS`) is set at creation by
        the route that checked it. Changing it later would make Stripe's intent pay something
        else (e.g. a 1.00 intent for a transaction raised to 100,000), so it is refused to
        every caller, RPC and sudo included, except the code path that owns the change and
        marks it with `const.TERMS_SENTINEL` (an object, not a value a caller can send).
        Writing a field's current value is not a change.

        :raise AccessError: a change of a transaction's terms without the marker
        """
        protected = [name for name in const.TRANSACTION_TERMS_FIELDS if name in vals]
        if protected and self.env.context.get(const.TERMS_CONTEXT_KEY) is not (
            const.TERMS_SENTINEL
        ):
            changed = [name for name in protected if self._legal_changes_field(name, vals[name])]
            if changed:
                raise AccessError(
                    _(
                        "The %(fields)s of a payment transaction cannot be changed once it is "
                        "created: start a new payment instead.",
                        fields=", ".join(self._fields[name].string for name in changed),
                    )
                )
        return super().write(vals)

    def _legal_changes_field(self, name, value):
        """Whether writing ``value`` to the field ``name`` changes any of the transactions.

        :rtype: bool
        """
        field = self._fields[name]
        for tx in self:
            new = field.convert_to_cache(value, tx)
            old = field.convert_to_cache(tx[name], tx)
            if field.type in ("many2many", "one2many"):
                new, old = set(new or ()), set(old or ())
            if new != old:
                return True
        return False

    @api.model
    def _legal_next_reference(self, reference, separator="-"):
        """The reference after ``reference`` in its sequence (``INV/1`` → ``INV/1-1`` → ``-2``).

        A long number is part of the prefix (``tx-20261130062110``, Odoo's time-based one).
        """
        prefix, _sep, number = reference.rpartition(separator)
        if prefix and number.isdigit() and len(number) <= 6:
            return f"{prefix}{separator}{int(number) + 1}"
        return f"{reference}{separator}1"

    @api.model
    def _legal_surcharge_for_values(self, vals):
        """The card surcharge of a transaction about to be created, or 0.

        Only payments the client makes from the payment form (online operations, not a
        validation, a refund, a capture or void of another transaction, or a charge of a saved
        card by the firm), by card, through an operating provider, never a trust deposit.

        :param dict vals: the create values of the transaction
        :rtype: float
        """
        if (
            vals.get("operation") not in const.SURCHARGED_OPERATIONS
            or vals.get("source_transaction_id")
            or vals.get("legal_matter_id")
            or not vals.get("provider_id")
            or not vals.get("currency_id")
            or not vals.get("partner_id")
        ):
            return 0.0
        env = self.env
        provider = env["payment.provider"].sudo().browse(vals["provider_id"])
        payment_method = env["payment.method"].sudo().browse(vals.get("payment_method_id"))
        if not payment_method and vals.get("token_id"):
            payment_method = env["payment.token"].sudo().browse(vals["token_id"]).payment_method_id
        return provider._legal_compute_surcharge(
            vals.get("amount") or 0.0,
            env["res.currency"].browse(vals["currency_id"]),
            env["res.partner"].sudo().browse(vals["partner_id"]),
            payment_method,
        )

    # === BUSINESS METHODS - POST-PROCESSING === #

    def _legal_book_surcharge(self, outstanding_account):
        """Book the card surcharge as income, apart from the invoice's payment.

        Dr the provider's outstanding receipts account (the account the payment debits, so that
        the payout matches the total charged), Cr the surcharge income account, with the client
        as partner, posted in the provider's journal. Idempotent: called under the
        transaction's row lock (post-processing), it books one entry.

        :param outstanding_account: the `account.account` debited by the payment
        :return: the posted `account.move`, or the one booked before
        """
        self.ensure_one()
        if self.legal_surcharge_move_id:
            return self.legal_surcharge_move_id
        provider = self.provider_id.sudo()
        company = self.company_id
        currency = self.currency_id
        amount = self.legal_surcharge_amount
        date = fields.Date.context_today(self)
        balance = currency._convert(amount, company.currency_id, company, date)
        income = provider.legal_surcharge_account_id or company._legal_surcharge_account()
        label = _("Card surcharge %s", self.reference)
        common = {
            "name": label,
            "partner_id": self.partner_id.commercial_partner_id.id,
            "currency_id": currency.id,
        }
        move = (
            self.env["account.move"]
            .sudo()
            .create(
                {
                    "move_type": "entry",
                    "journal_id": provider.journal_id.id,
                    "company_id": company.id,
                    "date": date,
                    "ref": label,
                    "line_ids": [
                        fields.Command.create(
                            {
                                **common,
                                "account_id": outstanding_account.id,
                                "debit": balance,
                                "amount_currency": amount,
                            }
                        ),
                        fields.Command.create(
                            {
                                **common,
                                "account_id": income.id,
                                "credit": balance,
                                "amount_currency": -amount,
                            }
                        ),
                    ],
                }
            )
        )
        move.action_post()
        self.legal_surcharge_move_id = move
        return move

    # === PAYMENT PLANS === #

    legal_plan_instalment_id = fields.Many2one(
        string="Payment Plan Instalment",
        comodel_name="legal.payment.plan.instalment",
        readonly=True,
        copy=False,
        index="btree_not_null",
        ondelete="restrict",
        help="The instalment of a payment plan this payment pays.",
    )

    def _legal_plan_amounts(self):
        """What each transaction pays of a plan's invoices: its amount without the card
        surcharge (booked apart as income).

        :rtype: list[float]
        """
        return [tx.currency_id.round(tx.amount - tx.legal_surcharge_amount) for tx in self]
