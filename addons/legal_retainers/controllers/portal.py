from urllib.parse import urlencode

from odoo import _, http
from odoo.exceptions import AccessError, MissingError, UserError, ValidationError
from odoo.http import request

from odoo.addons.legal_payments.controllers.portal import LegalPaymentPortal
from odoo.addons.payment import utils as payment_utils


class LegalRetainerPortal(LegalPaymentPortal):
    """The client's retainer requests: see them, pay them into trust."""

    @http.route("/my/retainers/<int:request_id>", type="http", auth="public", website=True)
    def portal_my_retainer(self, request_id, access_token=None, **kw):
        try:
            retainer = self._document_check_access(
                "legal.retainer.request", request_id, access_token
            )
        except (AccessError, MissingError):
            return request.redirect("/my")
        if retainer.state == "draft":
            return request.redirect("/my")
        values = self._get_page_view_values(
            retainer,
            access_token,
            {"retainer": retainer, "page_name": "retainer"},
            "my_retainers_history",
            False,
        )
        return request.render("legal_retainers.portal_my_retainer", values)

    @http.route(
        "/my/retainers/<int:request_id>/pay",
        type="http",
        auth="public",
        website=True,
        sitemap=False,
    )
    def portal_pay_retainer(self, request_id, access_token=None, **kw):
        """Open the payment form for what is due on the request (trust providers only)."""
        try:
            retainer = self._document_check_access(
                "legal.retainer.request", request_id, access_token
            )
        except (AccessError, MissingError):
            return request.redirect("/my")
        if retainer.state not in ("sent", "partial"):
            return request.redirect(retainer.get_portal_url())
        amount = retainer.amount_due
        partner, currency = retainer.partner_id, retainer.currency_id
        params = {
            "legal_matter_id": retainer.matter_id.id,
            "legal_retainer_request_id": retainer.id,
            "amount": amount,
            "currency_id": currency.id,
            "partner_id": partner.id,
            "company_id": retainer.company_id.id,
            "access_token": payment_utils.generate_access_token(partner.id, amount, currency.id),
        }
        return request.redirect(f"/payment/pay?{urlencode(params)}")

    def _get_extra_payment_form_values(
        self, legal_retainer_request_id=None, access_token=None, **kwargs
    ):
        """Override of `legal_payments`: a retainer payment has its own transaction route."""
        values = super()._get_extra_payment_form_values(access_token=access_token, **kwargs)
        request_id = self._cast_as_int(legal_retainer_request_id)
        if request_id:
            retainer = request.env["legal.retainer.request"].sudo().browse(request_id).exists()
            if retainer:
                values.update(
                    {
                        "transaction_route": f"/legal/retainer/transaction/{request_id}",
                        "landing_route": retainer.get_portal_url(),
                    }
                )
        return values

    @http.route("/legal/retainer/transaction/<int:request_id>", type="json", auth="public")
    def legal_retainer_transaction(self, request_id, access_token, amount, **kwargs):
        """Create the draft transaction paying (part of) a retainer request.

        :raise ValidationError: invalid token, request not payable, amount above what is due,
            another currency, an operating provider (checked by legal_payments)
        """
        retainer = request.env["legal.retainer.request"].sudo().browse(request_id).exists()
        amount = amount and float(amount)
        if not retainer or not payment_utils.check_access_token(
            access_token, retainer.partner_id.id, amount, retainer.currency_id.id
        ):
            raise ValidationError(_("The access token is invalid."))
        try:
            retainer._retainer_check_payable(amount, retainer.currency_id)
        except UserError as exc:
            raise ValidationError(exc.args[0]) from exc
        self._validate_transaction_kwargs(kwargs)
        tx_sudo = self._create_transaction(
            amount=amount,
            currency_id=retainer.currency_id.id,
            partner_id=retainer.partner_id.id,
            custom_create_values={
                "legal_matter_id": retainer.matter_id.id,
                "legal_retainer_request_id": retainer.id,
            },
            **kwargs,
        )
        return tx_sudo._get_processing_values()
