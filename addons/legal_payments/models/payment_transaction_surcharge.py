# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo import _, api, fields, models

# Operations where the client pays from the payment form, having seen the surcharge.
SURCHARGED_OPERATIONS = ("online_redirect", "online_direct", "online_token")


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"

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
        and keeps the surcharge apart.
        """
        for vals in vals_list:
            vals["legal_surcharge_amount"] = 0.0
            surcharge = self._legal_surcharge_for_values(vals)
            if surcharge:
                currency = self.env["res.currency"].browse(vals["currency_id"])
                vals["amount"] = currency.round(vals["amount"] + surcharge)
                vals["legal_surcharge_amount"] = surcharge
        return super().create(vals_list)

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
            vals.get("operation") not in SURCHARGED_OPERATIONS
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

    def _create_payment(self, **extra_create_values):
        """Override of `account_payment` to pay the invoices exactly, without the surcharge.

        The `account.payment` is the amount charged less the surcharge; the surcharge is its
        own entry (see `_legal_book_surcharge`).
        """
        self.ensure_one()
        currency = self.currency_id
        if (
            self.operation == "refund"
            or currency.is_zero(self.legal_surcharge_amount)
            or "amount" in extra_create_values
        ):
            return super()._create_payment(**extra_create_values)
        payment = super()._create_payment(
            amount=currency.round(self.amount - self.legal_surcharge_amount),
            **extra_create_values,
        )
        if payment:
            self._legal_book_surcharge(
                payment.outstanding_account_id or self.provider_id.journal_id.default_account_id
            )
        return payment

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
