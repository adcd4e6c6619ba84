# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from urllib.parse import urlencode

from odoo import _, http
from odoo.exceptions import AccessError, MissingError, ValidationError
from odoo.http import request

from odoo.addons.account_payment.controllers.payment import PaymentPortal
from odoo.addons.payment import utils as payment_utils


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
        trust deposit route) ends here: the provider's kind (trust or operating), the partner,
        the currency and the amount are checked against the invoices or the matter.

        :raise ValidationError: when the request was tampered with; nothing is created
        """
        if not is_validation:
            env = request.env
            if flow == "token":
                provider = env["payment.token"].sudo().browse(token_id).provider_id
            else:
                provider = env["payment.provider"].sudo().browse(provider_id)
            values = custom_create_values or {}
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
            "access_token": payment_utils.generate_access_token(partner.id, amount, currency.id),
        }
        return request.redirect(f"/payment/pay?{urlencode(params)}")

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
            if not matter_sudo or not payment_utils.check_access_token(
                access_token, matter_sudo.partner_id.id, amount, matter_sudo.currency_id.id
            ):
                raise ValidationError(_("The provided parameters are invalid."))
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
                }
            )
        return values

    @http.route("/legal/trust/transaction/<int:matter_id>", type="json", auth="public")
    def legal_trust_transaction(self, matter_id, access_token, amount, **kwargs):
        """Create the draft transaction of a trust deposit and return its processing values.

        :param int matter_id: the `legal.matter` credited
        :param str access_token: the payment access token of (client, amount, currency)
        :param float amount: the amount to deposit
        :return: the processing values of the transaction
        :raise ValidationError: if the access token is invalid, or the server-side checks fail
        """
        matter_sudo = request.env["legal.matter"].sudo().browse(matter_id).exists()
        amount = amount and float(amount)
        if not matter_sudo or not payment_utils.check_access_token(
            access_token, matter_sudo.partner_id.id, amount, matter_sudo.currency_id.id
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
