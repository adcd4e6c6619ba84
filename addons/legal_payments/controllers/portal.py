# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from urllib.parse import urlencode

from odoo import _, http
from odoo.exceptions import AccessError, MissingError, ValidationError
from odoo.http import request

from odoo.addons.account_payment.controllers.payment import PaymentPortal
from odoo.addons.payment import utils as payment_utils

from .. import const, utils


class LegalPaymentPortal(PaymentPortal):
    def _create_transaction(
        self,
        provider_id,
        payment_method_id,
        token_id,
        amount,
        currency_id,
        partner_id,
        flow,
        tokenization_requested,
        landing_route,
        reference_prefix=None,
        is_validation=False,
        custom_create_values=None,
        **kwargs,
    ):
        """Override of `payment` to re-check the request on the server before creating anything.

        Every transaction route (`/payment/transaction`, `/invoice/transaction/<id>`, and the
        trust deposit and retainer routes) ends here: the provider's kind (trust or operating),
        the partner, the currency and the amount are checked against the invoices or the
        matter. A validation (saving a payment method) pays nothing: it is refused with an
        invoice or a matter, its amount being the provider's validation amount. A charge of a
        saved payment method (``flow=token``) is made by the logged-in client owning it, and
        only then counts as made with the client at the keyboard (no authorization needed).

        :raise ValidationError: when the request was tampered with; nothing is created
        :raise AccessError: a saved method charged by a visitor who is not logged in, or by a
            user of another client
        """
        env = request.env
        values = custom_create_values or {}
        if flow == "token":
            self._legal_check_token_payer(token_id, partner_id)
        if is_validation:
            self._legal_check_validation(flow, values)
        else:
            if flow == "token":
                provider = env["payment.token"].sudo().browse(token_id).provider_id
            else:
                provider = env["payment.provider"].sudo().browse(provider_id)
            invoice_ids = (
                env["payment.transaction"]
                ._fields["invoice_ids"]
                .convert_to_cache(values.get("invoice_ids") or [], env["payment.transaction"])
            )
            env["payment.transaction"].sudo()._legal_check_payment_request(
                provider,
                amount and float(amount),
                env["res.currency"].sudo().browse(currency_id).exists(),
                env["res.partner"].sudo().browse(partner_id).exists(),
                env["account.move"].sudo().browse(invoice_ids).exists(),
                env["legal.matter"].sudo().browse(values.get("legal_matter_id")).exists(),
            )
        previous_env = request.env
        if flow == "token":
            request.update_context(
                **{const.CLIENT_AT_KEYBOARD_CONTEXT_KEY: const.CLIENT_AT_KEYBOARD_SENTINEL}
            )
        try:
            return super()._create_transaction(
                provider_id,
                payment_method_id,
                token_id,
                amount,
                currency_id,
                partner_id,
                flow,
                tokenization_requested,
                landing_route,
                reference_prefix=reference_prefix,
                is_validation=is_validation,
                custom_create_values=custom_create_values,
                **kwargs,
            )
        finally:
            request.env = previous_env

    @staticmethod
    def _legal_check_token_payer(token_id, partner_id):
        """Refuse a charge of a saved payment method not made by its owner, logged in.

        :param int token_id: the `payment.token` id asked
        :param int partner_id: the paying `res.partner` id of the request
        :raise AccessError: a visitor not logged in, a method of another client, an archived or
            unknown method
        """
        user = request.env.user
        token_sudo = request.env["payment.token"].sudo().browse(token_id).exists()
        if user._is_public():
            raise AccessError(_("Log in to pay with a saved payment method."))
        client = user.partner_id.commercial_partner_id
        payer = request.env["res.partner"].sudo().browse(partner_id).commercial_partner_id
        if (
            not token_sudo
            or not token_sudo.active
            or token_sudo.partner_id.commercial_partner_id != client
            or payer != client
        ):
            raise AccessError(_("You do not have access to this payment method."))

    @staticmethod
    def _legal_check_validation(flow, values):
        """Refuse a validation (saving a payment method) that would pay something.

        :param str flow: the payment flow asked
        :param dict values: the custom create values of the transaction
        :raise ValidationError: a validation by saved method, or with invoices, a matter, a
            request or an instalment
        """
        if flow == "token":
            raise ValidationError(_("A saved payment method cannot be saved again."))
        paid = [
            name
            for name in (
                "invoice_ids",
                "legal_matter_id",
                "legal_retainer_request_id",
                "legal_plan_instalment_id",
            )
            if values.get(name)
        ]
        if paid:
            raise ValidationError(
                _("Saving a payment method pays nothing: no invoice, matter or request.")
            )

    # === Trust deposits === #

    @http.route(
        "/my/matters/<int:matter_id>/deposit",
        type="http",
        methods=["GET"],
        auth="public",
        website=True,
        sitemap=False,
    )
    def legal_matter_deposit(self, matter_id, access_token=None, amount=None, **kwargs):
        """Open the payment form of a trust deposit on the matter ("Deposit to trust").

        :param int matter_id: the `legal.matter` credited
        :param str access_token: the matter's portal access token (when not logged in)
        :param str amount: the amount to deposit
        :return: a redirection to the payment form, or to the portal home when access fails
        """
        try:
            matter_sudo = self._document_check_access("legal.matter", matter_id, access_token)
        except (AccessError, MissingError):
            return request.redirect("/my")
        amount = self._cast_as_float(amount)
        if not amount or amount <= 0:
            return request.redirect(matter_sudo.get_portal_url())
        partner = matter_sudo.partner_id
        currency = matter_sudo.currency_id
        params = {
            "legal_matter_id": matter_sudo.id,
            "amount": amount,
            "currency_id": currency.id,
            "partner_id": partner.id,
            "company_id": matter_sudo.company_id.id,
            "access_token": self._legal_deposit_access_token(matter_sudo, amount),
        }
        return request.redirect(f"/payment/pay?{urlencode(params)}")

    @staticmethod
    def _legal_deposit_access_token(matter_sudo, amount):
        """The payment access token of a trust deposit of ``amount`` on the matter: bound to
        that purpose and matter (refused by Odoo's generic payment routes).

        :rtype: str
        """
        return utils.purpose_access_token(
            const.TOKEN_PURPOSE_TRUST_DEPOSIT,
            matter_sudo.id,
            matter_sudo.partner_id.id,
            amount,
            matter_sudo.currency_id.id,
        )

    def _legal_check_deposit_access_token(self, matter_sudo, amount, access_token, **kwargs):
        """Whether ``access_token`` pays ``amount`` for the purpose the request names.

        The trust deposit's own token here; overridden for requests that name another
        purpose on the matter (a retainer request).

        :param matter_sudo: the sudoed `legal.matter` credited
        :param float amount: the amount to pay
        :param str access_token: the token of the request
        :param dict kwargs: the other parameters of the request
        :rtype: bool
        """
        return utils.check_purpose_access_token(
            access_token,
            const.TOKEN_PURPOSE_TRUST_DEPOSIT,
            matter_sudo.id,
            matter_sudo.partner_id.id,
            amount,
            matter_sudo.currency_id.id,
        )

    @http.route()
    def payment_pay(self, *args, amount=None, legal_matter_id=None, access_token=None, **kwargs):
        """Override of `payment` to offer the trust providers, and only them, for a deposit.

        :param str legal_matter_id: the matter credited in trust, as a `legal.matter` id
        :raise ValidationError: if the matter id or the access token is invalid
        """
        matter_id = self._cast_as_int(legal_matter_id)
        if matter_id:
            amount = self._cast_as_float(amount)
            matter_sudo = request.env["legal.matter"].sudo().browse(matter_id).exists()
            if not matter_sudo or not self._legal_check_deposit_access_token(
                matter_sudo, amount, access_token, **kwargs
            ):
                raise ValidationError(_("The provided parameters are invalid."))
            # Odoo's form checks the generic token of (client, amount, currency), made here on
            # the server only: the page gets the purpose-bound token back
            # (`_get_extra_payment_form_values`).
            access_token = payment_utils.generate_access_token(
                matter_sudo.partner_id.id, amount, matter_sudo.currency_id.id
            )
            kwargs.update(
                {
                    "reference": matter_sudo.name,
                    "currency_id": matter_sudo.currency_id.id,
                    "partner_id": matter_sudo.partner_id.id,
                    "company_id": matter_sudo.company_id.id,
                    "legal_matter_id": matter_id,
                }
            )
            request.update_context(legal_trust_deposit=True)
        return super().payment_pay(*args, amount=amount, access_token=access_token, **kwargs)

    def _get_extra_payment_form_values(self, legal_matter_id=None, access_token=None, **kwargs):
        """Override of `payment` to route a trust deposit to its own transaction route."""
        values = super()._get_extra_payment_form_values(access_token=access_token, **kwargs)
        matter_id = self._cast_as_int(legal_matter_id)
        if matter_id:
            matter_sudo = request.env["legal.matter"].sudo().browse(matter_id)
            values.update(
                {
                    "transaction_route": f"/legal/trust/transaction/{matter_id}",
                    "landing_route": matter_sudo.get_portal_url(),
                    "access_token": self._legal_deposit_access_token(
                        matter_sudo, kwargs.get("amount")
                    ),
                }
            )
        return values

    @http.route("/legal/trust/transaction/<int:matter_id>", type="json", auth="public")
    def legal_trust_transaction(self, matter_id, access_token, amount, **kwargs):
        """Create the draft transaction of a trust deposit and return its processing values.

        :param int matter_id: the `legal.matter` credited
        :param str access_token: the trust deposit's access token of (client, amount,
            currency, matter)
        :param float amount: the amount to deposit
        :return: the processing values of the transaction
        :raise ValidationError: if the access token is invalid, or the server-side checks fail
        """
        matter_sudo = request.env["legal.matter"].sudo().browse(matter_id).exists()
        amount = amount and float(amount)
        if not matter_sudo or not utils.check_purpose_access_token(
            access_token,
            const.TOKEN_PURPOSE_TRUST_DEPOSIT,
            matter_sudo.id,
            matter_sudo.partner_id.id,
            amount,
            matter_sudo.currency_id.id,
        ):
            raise ValidationError(_("The access token is invalid."))
        self._validate_transaction_kwargs(kwargs)
        tx_sudo = self._create_transaction(
            amount=amount,
            currency_id=matter_sudo.currency_id.id,
            partner_id=matter_sudo.partner_id.id,
            custom_create_values={"legal_matter_id": matter_sudo.id},
            **kwargs,
        )
        return tx_sudo._get_processing_values()
