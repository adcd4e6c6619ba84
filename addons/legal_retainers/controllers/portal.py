from urllib.parse import urlencode

from odoo import _, http
from odoo.exceptions import AccessError, MissingError, UserError, ValidationError
from odoo.http import request

from odoo.addons.legal_payments import utils
from odoo.addons.legal_payments.controllers.portal import LegalPaymentPortal
from odoo.addons.portal.controllers.portal import pager as portal_pager

# What a client sees of its requests: drafts are the firm's, not sent yet.
PORTAL_DOMAIN = [("state", "!=", "draft")]
# The purpose a retainer request's payment access token is bound to (with the request's id).
TOKEN_PURPOSE_RETAINER = "legal.retainer.request.payment"


class LegalRetainerPortal(LegalPaymentPortal):
    """The client's retainer requests: see them, pay them into trust."""

    _retainers_per_page = 20

    def _prepare_home_portal_values(self, counters):
        values = super()._prepare_home_portal_values(counters)
        if "retainer_count" in counters:
            Request = request.env["legal.retainer.request"]
            values["retainer_count"] = (
                Request.search_count(PORTAL_DOMAIN + [("state", "in", ("sent", "partial"))])
                if Request.has_access("read")
                else 0
            )
        return values

    @http.route(
        ["/my/retainers", "/my/retainers/page/<int:page>"],
        type="http",
        auth="user",
        website=True,
    )
    def portal_my_retainers(self, page=1, **kw):
        """The client's retainer requests, open ones first, with each matter's trust balance."""
        Request = request.env["legal.retainer.request"]
        total = Request.search_count(PORTAL_DOMAIN)
        pager = portal_pager(
            url="/my/retainers", total=total, page=page, step=self._retainers_per_page
        )
        retainers = utils.search_open_first(
            Request,
            PORTAL_DOMAIN,
            "state",
            ("sent", "partial"),
            limit=self._retainers_per_page,
            offset=pager["offset"],
        )
        values = self._prepare_portal_layout_values()
        values.update(
            {
                "retainers": retainers,
                "pager": pager,
                "page_name": "retainer",
                "default_url": "/my/retainers",
            }
        )
        request.session["my_retainers_history"] = retainers.ids[:100]
        return request.render("legal_retainers.portal_my_retainers", values)

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
            {"retainer": retainer, "page_name": "retainer", "error": kw.get("error")},
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
    def portal_pay_retainer(self, request_id, access_token=None, amount=None, **kw):
        """Open the payment form for what is due on the request, or the part of it the client
        chose to pay now (trust providers only).

        :param str amount: the amount to pay now; what is due when not given
        """
        try:
            retainer = self._document_check_access(
                "legal.retainer.request", request_id, access_token
            )
        except (AccessError, MissingError):
            return request.redirect("/my")
        if retainer.state not in ("sent", "partial"):
            return request.redirect(retainer.get_portal_url())
        currency = retainer.currency_id
        due = retainer.amount_due
        if amount in (None, ""):
            amount = due
        else:
            amount = currency.round(self._cast_as_float(amount) or 0.0)
            if (
                currency.compare_amounts(amount, 0) <= 0
                or currency.compare_amounts(amount, due) > 0
            ):
                separator = "&" if "?" in retainer.get_portal_url() else "?"
                return request.redirect(f"{retainer.get_portal_url()}{separator}error=amount")
        partner = retainer.partner_id
        params = {
            "legal_matter_id": retainer.matter_id.id,
            "legal_retainer_request_id": retainer.id,
            "amount": amount,
            "currency_id": currency.id,
            "partner_id": partner.id,
            "company_id": retainer.company_id.id,
            "access_token": self._retainer_access_token(retainer, amount),
        }
        return request.redirect(f"/payment/pay?{urlencode(params)}")

    @staticmethod
    def _retainer_access_token(retainer_sudo, amount):
        """The payment access token of ``amount`` paid on the retainer request: bound to that
        request (refused by Odoo's generic payment routes and by the trust deposit route).

        :rtype: str
        """
        return utils.purpose_access_token(
            TOKEN_PURPOSE_RETAINER,
            retainer_sudo.id,
            retainer_sudo.partner_id.id,
            amount,
            retainer_sudo.currency_id.id,
        )

    def _legal_check_deposit_access_token(self, matter_sudo, amount, access_token, **kwargs):
        """Override of `legal_payments`: a payment of a retainer request on the matter has the
        request's own token."""
        request_id = self._cast_as_int(kwargs.get("legal_retainer_request_id"))
        if not request_id:
            return super()._legal_check_deposit_access_token(
                matter_sudo, amount, access_token, **kwargs
            )
        retainer = request.env["legal.retainer.request"].sudo().browse(request_id).exists()
        return (
            bool(retainer)
            and retainer.matter_id == matter_sudo
            and (
                utils.check_purpose_access_token(
                    access_token,
                    TOKEN_PURPOSE_RETAINER,
                    retainer.id,
                    retainer.partner_id.id,
                    amount,
                    retainer.currency_id.id,
                )
            )
        )

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
                        "access_token": self._retainer_access_token(retainer, kwargs.get("amount")),
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
        if not retainer or not utils.check_purpose_access_token(
            access_token,
            TOKEN_PURPOSE_RETAINER,
            retainer.id,
            retainer.partner_id.id,
            amount,
            retainer.currency_id.id,
        ):
            raise ValidationError(_("The access token is invalid."))
        try:
            retainer._retainer_check_payable(amount, retainer.currency_id)
        except UserError as exc:
            raise ValidationError(exc.args[0]) from exc
        kwargs.pop("reference_prefix", None)  # the request's own reference is used
        self._validate_transaction_kwargs(kwargs)
        tx_sudo = self._create_transaction(
            amount=amount,
            currency_id=retainer.currency_id.id,
            partner_id=retainer.partner_id.id,
            reference_prefix=retainer.name,
            custom_create_values={
                "legal_matter_id": retainer.matter_id.id,
                "legal_retainer_request_id": retainer.id,
            },
            **kwargs,
        )
        return tx_sudo._get_processing_values()
