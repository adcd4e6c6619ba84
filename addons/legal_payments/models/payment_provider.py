# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

import logging
from datetime import datetime

import requests
from werkzeug.urls import url_join

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from odoo.addons.payment_stripe import const as stripe_const
from odoo.addons.payment_stripe import utils as stripe_utils

from .. import const, utils

_logger = logging.getLogger(__name__)


class PaymentProvider(models.Model):
    _inherit = "payment.provider"

    legal_is_trust = fields.Boolean(
        string="Trust Provider",
        compute="_compute_legal_is_trust",
        help="Payments through this provider are client money held in trust: its journal is a "
        "trust account. Invoices are never paid through it; trust deposits only are.",
    )
    legal_payout_journal_id = fields.Many2one(
        string="Payout Bank Journal",
        comodel_name="account.journal",
        domain="[('type', '=', 'bank'), ('id', '!=', journal_id)]",
        check_company=True,
        help="The bank journal that receives this Stripe account's payouts. For a trust "
        "provider, the trust bank account.",
    )

    # === COMPUTE METHODS === #

    @api.depends("journal_id")
    def _compute_legal_is_trust(self):
        for provider in self:
            journal = provider.journal_id
            provider.legal_is_trust = bool(
                journal and "is_trust_account" in journal._fields and journal.is_trust_account
            )

    # === CRUD METHODS === #

    @api.model_create_multi
    def create(self, vals_list):
        providers = super().create(vals_list)
        providers._legal_sync_outstanding_account()
        return providers

    def write(self, vals):
        res = super().write(vals)
        if "journal_id" in vals or "code" in vals:
            self._legal_sync_outstanding_account()
        return res

    # === BUSINESS METHODS === #

    def _legal_sync_outstanding_account(self):
        """Make the Stripe clearing account (the journal's default account) the outstanding
        account of the provider's payment method line: card payments debit it, fees and
        payouts credit it (ACCOUNTING.md entries 5 and 6)."""
        for provider in self.filtered(lambda p: p.code == "stripe" and p.journal_id):
            journal = provider.journal_id
            method_line = journal.inbound_payment_method_line_ids.filtered(
                lambda line, p=provider: line.payment_provider_id == p
            )
            if method_line and method_line.payment_account_id != journal.default_account_id:
                method_line.sudo().payment_account_id = journal.default_account_id

    def _stripe_make_request(
        self, endpoint, payload=None, method="POST", offline=False, idempotency_key=None
    ):
        """Override of `payment_stripe` to reach the configured API base URL in test mode.

        Providers in test mode send their calls to the base URL of the system parameter
        ``legal_payments.stripe_api_base`` when it is set (the Stripe emulator in tests). Live
        providers, and test providers without the parameter, use the standard method unchanged.

        :param str endpoint: the endpoint, relative to ``/v1/``
        :param dict payload: the form-encoded payload
        :param str method: the HTTP method
        :param bool offline: whether the operation is offline (no exception on 4xx)
        :param str idempotency_key: the ``Idempotency-Key`` header, for POST requests
        :return: the JSON content of the response
        :rtype: dict
        :raise ValidationError: if Stripe answers with an error or cannot be reached
        """
        self.ensure_one()
        if endpoint == "webhook_endpoints" and method == "POST" and payload:
            # The webhook created from the provider form also listens to disputes and payouts.
            payload = dict(payload, **{"enabled_events[]": list(const.HANDLED_EVENTS)})
        base = utils.stripe_api_base(self.sudo())
        if self.code != "stripe" or base == const.STRIPE_DEFAULT_API_BASE:
            return super()._stripe_make_request(
                endpoint,
                payload=payload,
                method=method,
                offline=offline,
                idempotency_key=idempotency_key,
            )

        url = url_join(f"{base}/v1/", endpoint)
        headers = {
            "AUTHORIZATION": f"Bearer {stripe_utils.get_secret_key(self)}",
            "Stripe-Version": stripe_const.API_VERSION,
            **self._get_stripe_extra_request_headers(),
        }
        if method == "POST" and idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        try:
            response = requests.request(method, url, data=payload, headers=headers, timeout=60)
        except requests.exceptions.ConnectionError as exc:
            _logger.exception("unable to reach endpoint at %s", url)
            raise ValidationError(
                _("Stripe: Could not establish the connection to the API.")
            ) from exc
        try:
            content = response.json()
        except ValueError as exc:
            _logger.error("non-JSON answer from %s (HTTP %s)", url, response.status_code)
            raise ValidationError(
                _("Stripe: The API answered with an unreadable response.")
            ) from exc
        if (
            not response.ok
            and not offline
            and 400 <= response.status_code < 500
            and content.get("error")
        ):
            _logger.error("invalid API request at %s with data %s", url, payload)
            raise ValidationError(
                _(
                    "Stripe: The communication with the API failed.\n"
                    "Stripe gave us the following info about the problem:\n'%s'",
                    content.get("error", {}).get("message", ""),
                )
            )
        return content

    def _legal_stripe_client(self):
        """Return the official Stripe SDK client of this provider (test mode: same base URL).

        :rtype: stripe.StripeClient
        """
        self.ensure_one()
        return utils.stripe_client(self.sudo())

    @api.model
    def _get_compatible_providers(self, *args, **kwargs):
        """Override of `payment` to keep trust providers for trust deposits only.

        Trust providers are offered only when the context key ``legal_trust_deposit`` is set
        (the matter's deposit page); operating providers are not offered for trust deposits.
        """
        providers = super()._get_compatible_providers(*args, **kwargs)
        trust_deposit = self.env.context.get("legal_trust_deposit")
        return providers.filtered(lambda p: p.legal_is_trust == bool(trust_deposit))

    def _legal_book_payout(self, payout):
        """Book a Stripe payout to the bank (ACCOUNTING.md entries 5 and 6).

        Dr the payout bank journal's account, Cr the Stripe clearing account, for the exact
        amount of the payout, so that it matches the bank statement line to the cent.
        Idempotent by the payout id.

        :param dict payout: the Stripe Payout object (``payout.paid``)
        :return: the posted `account.move`, or the one posted before for this payout
        :raise ValidationError: when no payout bank journal is set
        """
        self.ensure_one()
        bank = self.legal_payout_journal_id
        if not bank:
            raise ValidationError(_("Set the payout bank journal of %s.", self.name))
        ref = _("Stripe payout %s", payout["id"])
        Move = self.env["account.move"].sudo()
        existing = Move.search([("journal_id", "=", bank.id), ("ref", "=", ref)], limit=1)
        if existing:
            return existing
        currency = (
            self.env["res.currency"].search(
                [("name", "=", str(payout["currency"]).upper())], limit=1
            )
            or self.company_id.currency_id
        )
        amount = payout["amount"] / (10**currency.decimal_places)
        date = fields.Date.context_today(self)
        if payout.get("arrival_date"):  # Unix time of the arrival on the bank account.
            date = min(date, datetime.fromtimestamp(int(payout["arrival_date"])).date())
        line_values = {"name": ref, "currency_id": currency.id}
        company_amount = currency._convert(
            amount, self.company_id.currency_id, self.company_id, date
        )
        move = Move.create(
            {
                "move_type": "entry",
                "journal_id": bank.id,
                "company_id": self.company_id.id,
                "date": date,
                "ref": ref,
                "line_ids": [
                    fields.Command.create(
                        {
                            **line_values,
                            "account_id": bank.default_account_id.id,
                            "debit": company_amount,
                            "amount_currency": amount,
                        }
                    ),
                    fields.Command.create(
                        {
                            **line_values,
                            "account_id": self.journal_id.default_account_id.id,
                            "credit": company_amount,
                            "amount_currency": -amount,
                        }
                    ),
                ],
            }
        )
        move.action_post()
        return move
