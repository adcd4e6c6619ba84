# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

import json

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import float_compare, float_repr

from odoo.addons.payment import utils as payment_utils

# The highest surcharge percentage a firm may set (card networks cap it lower in places).
MAX_SURCHARGE_PERCENT = 10.0


class PaymentProvider(models.Model):
    _inherit = "payment.provider"

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
            if percent < 0 or percent > MAX_SURCHARGE_PERCENT:
                raise ValidationError(
                    _(
                        "The card surcharge of %(provider)s must be between 0 and %(max)s%%.",
                        provider=provider.name,
                        max=float_repr(MAX_SURCHARGE_PERCENT, 0),
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
