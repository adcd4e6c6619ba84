# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

import logging

import requests
from werkzeug.urls import url_join

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from odoo.addons.payment_stripe import const as stripe_const
from odoo.addons.payment_stripe import utils as stripe_utils

from .. import utils

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

    # === BUSINESS METHODS === #

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
        base = utils.stripe_api_base(self.sudo())
        if self.code != "stripe" or base == utils.const.STRIPE_DEFAULT_API_BASE:
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
                "Stripe: " + _("Could not establish the connection to the API.")
            ) from exc
        try:
            content = response.json()
        except ValueError as exc:
            _logger.error("non-JSON answer from %s (HTTP %s)", url, response.status_code)
            raise ValidationError(
                "Stripe: " + _("The API answered with an unreadable response.")
            ) from exc
        if not response.ok and not offline and 400 <= response.status_code < 500 \
                and content.get("error"):
            _logger.error("invalid API request at %s with data %s", url, payload)
            raise ValidationError(
                "Stripe: " + _(
                    "The communication with the API failed.\n"
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
