# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

import json
import logging
from datetime import datetime

import requests
from werkzeug.urls import url_join

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import float_compare, float_repr

from odoo.addons.payment import utils as payment_utils
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
        payouts credit it (docs/accounting.md, entries 5 and 6)."""
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

    @api.model
    def _legal_online_payment_possible(self, company, partner, amount, currency, trust=False):
        """Whether a client can pay this online: a published provider of the trust (or the
        operating) kind, enabled or in test mode, accepts the company, client, amount and
        currency. Decides whether a document prints its Pay Now link.

        :param company: the `res.company` paid
        :param partner: the paying `res.partner`
        :param float amount: the amount to pay
        :param currency: the `res.currency` of the amount
        :param bool trust: a deposit into trust (trust providers) or not (operating ones)
        :rtype: bool
        """
        providers = (
            self.sudo()
            .with_context(legal_trust_deposit=trust)
            ._get_compatible_providers(company.id, partner.id, amount, currency_id=currency.id)
        )
        return bool(providers.filtered("is_published"))

    def _legal_book_payout(self, payout):
        """Book a Stripe payout to the bank (docs/accounting.md, entries 5 and 6).

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

    # === CARD SURCHARGE === #

    legal_surcharge_enabled = fields.Boolean(
        string="Card Surcharge",
        default=False,
        help="Card payments through this operating provider carry a surcharge, shown to the "
        "client before paying and booked as income. Never on trust deposits.",
    )
    legal_surcharge_percent = fields.Float(
        string="Surcharge (%)",
        digits=(5, 2),
        help="Percentage of the amount paid by card, more than 0 and at most 10.",
    )
    legal_surcharge_cap = fields.Monetary(
        string="Surcharge Cap",
        currency_field="main_currency_id",
        help="The most a surcharge can be, in the company's currency. 0: no cap.",
    )
    legal_surcharge_country_ids = fields.Many2many(
        string="No Surcharge in Countries",
        comodel_name="res.country",
        relation="legal_surcharge_provider_country_rel",
        column1="provider_id",
        column2="country_id",
        help="Clients whose address is in one of these countries are never surcharged.",
    )
    legal_surcharge_state_ids = fields.Many2many(
        string="No Surcharge in States",
        comodel_name="res.country.state",
        relation="legal_surcharge_provider_state_rel",
        column1="provider_id",
        column2="state_id",
        help="Clients whose address is in one of these states are never surcharged.",
    )
    legal_surcharge_account_id = fields.Many2one(
        string="Surcharge Income Account",
        comodel_name="account.account",
        check_company=True,
        domain="[('account_type', 'in', ('income', 'income_other'))]",
        help="Credited with the surcharges. Empty: the company's card surcharge income account, "
        "created on first use.",
    )

    # === CONSTRAINT METHODS === #

    @api.constrains(
        "legal_surcharge_enabled",
        "legal_surcharge_percent",
        "legal_surcharge_cap",
        "journal_id",
    )
    def _check_legal_surcharge(self):
        """Refuse a surcharge on a trust provider and out-of-range settings.

        :raise ValidationError: a surcharge enabled on a trust provider, a percentage outside
            (0, 10] when enabled (or outside [0, 10] at all), a negative cap
        """
        for provider in self:
            if provider.legal_surcharge_cap < 0:
                raise ValidationError(
                    _("The card surcharge cap of %s cannot be negative.", provider.name)
                )
            percent = provider.legal_surcharge_percent
            if percent < 0 or percent > const.MAX_SURCHARGE_PERCENT:
                raise ValidationError(
                    _(
                        "The card surcharge of %(provider)s must be between 0 and %(max)s%%.",
                        provider=provider.name,
                        max=float_repr(const.MAX_SURCHARGE_PERCENT, 0),
                    )
                )
            if not provider.legal_surcharge_enabled:
                continue
            if provider.legal_is_trust:
                raise ValidationError(
                    _(
                        "%s pays into a trust account: client money held in trust is never "
                        "surcharged. Enable the card surcharge on the operating provider only.",
                        provider.name,
                    )
                )
            if float_compare(percent, 0, precision_digits=2) <= 0:
                raise ValidationError(
                    _("Set the card surcharge percentage of %s (more than 0).", provider.name)
                )

    # === BUSINESS METHODS === #

    @api.model
    def _legal_is_card_method(self, payment_method):
        """Whether the payment method is a card: the ``card`` method or one of its brands.

        :param payment_method: a `payment.method` record (possibly empty)
        :rtype: bool
        """
        primary = payment_method.primary_payment_method_id or payment_method
        return bool(payment_method) and primary.code == "card"

    def _legal_surcharge_applies(self, partner, payment_method=None):
        """Whether a payment of ``partner`` through this provider is surcharged.

        Only an operating provider with the surcharge enabled surcharges, never one paying into
        a trust journal, and never a client whose country or state is blocked.

        :param partner: the paying `res.partner`
        :param payment_method: the `payment.method`; None: any card method of the provider
        :rtype: bool
        """
        self.ensure_one()
        provider = self.sudo()
        if (
            not provider.legal_surcharge_enabled
            or provider.legal_is_trust
            or provider.journal_id.is_trust_account
        ):
            return False
        if payment_method is not None and not self._legal_is_card_method(payment_method):
            return False
        partner = partner.sudo()
        if partner.country_id and partner.country_id in provider.legal_surcharge_country_ids:
            return False
        if partner.state_id and partner.state_id in provider.legal_surcharge_state_ids:
            return False
        return True

    def _legal_surcharge_cap(self, currency, date=None):
        """The cap in ``currency``, or None when the provider sets no cap.

        :param currency: the `res.currency` of the payment
        :rtype: float | None
        """
        self.ensure_one()
        company_currency = self.main_currency_id or self.company_id.currency_id
        if company_currency.is_zero(self.legal_surcharge_cap):
            return None
        return company_currency._convert(
            self.legal_surcharge_cap,
            currency,
            self.company_id,
            date or fields.Date.context_today(self),
        )

    def _legal_compute_surcharge(self, amount, currency, partner, payment_method=None):
        """The surcharge of a payment: ``min(round(amount * percent / 100), cap)``, or 0.

        :param float amount: the amount paid (without surcharge)
        :param currency: the `res.currency` of the payment
        :param partner: the paying `res.partner`
        :param payment_method: the `payment.method`; None: the provider's card methods
        :return: the surcharge, rounded by the currency; 0 when it does not apply
        :rtype: float
        """
        self.ensure_one()
        if not amount or currency.compare_amounts(amount, 0) <= 0:
            return 0.0
        if not self._legal_surcharge_applies(partner, payment_method):
            return 0.0
        provider = self.sudo()
        surcharge = currency.round(amount * provider.legal_surcharge_percent / 100.0)
        cap = provider._legal_surcharge_cap(currency)
        if cap is not None:
            surcharge = min(surcharge, currency.round(cap))
        return surcharge

    def _legal_surcharge_notices(self, amount, currency, partner_id, payment_methods, tokens=None):
        """What the payment form tells the client before paying by card, per provider.

        :param float amount: the amount on the page
        :param currency: the `res.currency` of the payment
        :param int partner_id: the paying partner, as a `res.partner` id
        :param payment_methods: the `payment.method` records offered
        :param tokens: the `payment.token` records offered (saved cards)
        :return: one dict per surcharging provider with a card method offered: ``provider``,
            ``percent`` (text), ``cap`` (amount or None), ``surcharge``, ``total``, ``currency``
        :rtype: list[dict]
        """
        partner = self.env["res.partner"].sudo().browse(partner_id).exists()
        if not amount or not currency or not partner:
            return []
        offered = self.env["payment.method"].sudo()
        if payment_methods:
            offered |= payment_methods
        if tokens:
            offered |= tokens.payment_method_id
        offered = offered.filtered(self._legal_is_card_method)
        notices = []
        for provider in self.sudo():
            card_methods = offered.filtered(
                lambda pm, p=provider: p in pm.provider_ids
                or p in pm.primary_payment_method_id.provider_ids
            )
            if not card_methods:
                continue
            surcharge = provider._legal_compute_surcharge(amount, currency, partner)
            if currency.is_zero(surcharge):
                continue
            notices.append(
                {
                    "provider": provider,
                    "percent": float_repr(provider.legal_surcharge_percent, 2)
                    .rstrip("0")
                    .rstrip("."),
                    "cap": provider._legal_surcharge_cap(currency),
                    "surcharge": surcharge,
                    "total": currency.round(amount + surcharge),
                    "currency": currency,
                }
            )
        return notices

    def _stripe_get_inline_form_values(
        self, amount, currency, partner_id, is_validation, payment_method_sudo=None, **kwargs
    ):
        """Override of `payment_stripe`: Stripe's card form is set up for the amount charged,
        surcharge included, as the payment intent will be."""
        if (
            amount
            and currency
            and not is_validation
            and payment_method_sudo
            and self._legal_is_card_method(payment_method_sudo)
        ):
            partner = self.env["res.partner"].sudo().browse(partner_id).exists()
            surcharge = self._legal_compute_surcharge(
                amount, currency, partner, payment_method_sudo
            )
            if not currency.is_zero(surcharge):
                values = json.loads(
                    super()._stripe_get_inline_form_values(
                        amount,
                        currency,
                        partner_id,
                        is_validation,
                        payment_method_sudo=payment_method_sudo,
                        **kwargs,
                    )
                )
                values["minor_amount"] = payment_utils.to_minor_currency_units(
                    amount + surcharge, currency
                )
                return json.dumps(values)
        return super()._stripe_get_inline_form_values(
            amount,
            currency,
            partner_id,
            is_validation,
            payment_method_sudo=payment_method_sudo,
            **kwargs,
        )

    def _legal_stripe_role(self):
        """The role of a Stripe provider for the firm.

        :return: ``"trust"`` when it pays into a trust journal, ``"operating"`` for any other
            Stripe provider (the firm's own money), ``False`` for other providers
        :rtype: str | bool
        """
        self.ensure_one()
        if self.code != "stripe":
            return False
        return "trust" if self.legal_is_trust else "operating"

    @api.constrains("state", "stripe_webhook_secret", "code")
    def _check_legal_live_webhook_secret(self):
        """A trust or operating Stripe provider goes live only with its webhook signing secret:
        without it, Stripe's notifications (payments, refunds, disputes, payouts) are refused
        and nothing would be booked.

        :raise ValidationError: a trust or operating Stripe provider enabled without secret
        """
        for provider in self.sudo():
            if (
                provider.code == "stripe"
                and provider.state == "enabled"
                and not provider.stripe_webhook_secret
                and provider._legal_stripe_role()
            ):
                raise ValidationError(
                    _(
                        "Enter the webhook signing secret of %s before enabling it: without "
                        "it, Stripe's notifications of payments, refunds, disputes and payouts "
                        "are refused.",
                        provider.name,
                    )
                )
