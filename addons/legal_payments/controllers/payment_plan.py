# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from urllib.parse import urlencode

from odoo import _, http
from odoo.exceptions import AccessError, MissingError, UserError, ValidationError
from odoo.fields import Command
from odoo.http import request

from odoo.addons.payment import utils as payment_utils
from odoo.addons.portal.controllers.portal import pager as portal_pager

from .. import const, utils
from .portal import LegalPaymentPortal

# What a client sees of their payment plans: drafts are the firm's, not sent yet.
PORTAL_DOMAIN = [("state", "!=", "draft")]


class LegalPaymentPlanPortal(LegalPaymentPortal):
    """The client's payment plans: see the schedule, accept it, pay an instalment."""

    _plans_per_page = 20

    def _prepare_home_portal_values(self, counters):
        values = super()._prepare_home_portal_values(counters)
        if "payment_plan_count" in counters:
            Plan = request.env["legal.payment.plan"]
            values["payment_plan_count"] = (
                Plan.search_count([("state", "in", ("awaiting", "running"))])
                if Plan.has_access("read")
                else 0
            )
        return values

    def _legal_plan_sudo(self, plan_id, access_token):
        """Return the sudoed plan the visitor may see, or None (never a draft)."""
        try:
            plan_sudo = self._document_check_access("legal.payment.plan", plan_id, access_token)
        except (AccessError, MissingError):
            return None
        return plan_sudo if plan_sudo.state != "draft" else None

    @http.route(
        ["/my/payment_plans", "/my/payment_plans/page/<int:page>"],
        type="http",
        auth="user",
        website=True,
    )
    def portal_my_payment_plans(self, page=1, **kw):
        """The client's payment plans, those awaiting acceptance and running first."""
        Plan = request.env["legal.payment.plan"]
        total = Plan.search_count(PORTAL_DOMAIN)
        pager = portal_pager(
            url="/my/payment_plans", total=total, page=page, step=self._plans_per_page
        )
        plans = utils.search_open_first(
            Plan,
            PORTAL_DOMAIN,
            "state",
            ("awaiting", "running"),
            limit=self._plans_per_page,
            offset=pager["offset"],
        )
        values = self._prepare_portal_layout_values()
        values.update(
            {
                "plans": plans,
                "pager": pager,
                "page_name": "payment_plan",
                "default_url": "/my/payment_plans",
            }
        )
        request.session["my_payment_plans_history"] = plans.ids[:100]
        return request.render("legal_payments.portal_my_payment_plans", values)

    @http.route("/my/payment_plans/<int:plan_id>", type="http", auth="public", website=True)
    def portal_my_payment_plan(
        self, plan_id, access_token=None, token_id=None, message=None, error=None, **kw
    ):
        """The schedule; while awaiting acceptance, the client's saved payment methods and the
        authorization text to accept."""
        plan_sudo = self._legal_plan_sudo(plan_id, access_token)
        if not plan_sudo:
            return request.redirect("/my")
        user = request.env.user
        is_client = (
            not user._is_public()
            and user.commercial_partner_id == plan_sudo.partner_id.commercial_partner_id
        )
        tokens = token = request.env["payment.token"]
        consent_text = False
        consent = request.env["legal.payment.consent"]
        if plan_sudo.state == "awaiting" and is_client:
            tokens = plan_sudo._legal_acceptable_tokens()
            token = tokens.filtered(lambda t: t.id == self._cast_as_int(token_id)) or tokens[:1]
            if token:
                consent = consent._legal_current(plan_sudo.company_id)
                consent_text = plan_sudo._legal_consent_preview(token)
        values = self._get_page_view_values(
            plan_sudo,
            access_token,
            {
                "plan": plan_sudo,
                "page_name": "payment_plan",
                "is_client": is_client,
                "saved_methods": tokens,
                "chosen_method": token,
                "consent_text": consent_text,
                "consent": consent,
                "message": message,
                "error": error,
            },
            "my_payment_plans_history",
            False,
        )
        return request.render("legal_payments.portal_my_payment_plan", values)

    @http.route(
        "/my/payment_plans/<int:plan_id>/accept",
        type="http",
        methods=["POST"],
        auth="user",
        website=True,
    )
    def portal_accept_payment_plan(
        self, plan_id, token_id=None, access_token=None, consent_id=None, **kw
    ):
        """The client accepts the plan with one of their saved payment methods, under the
        consent text version they read."""
        plan_sudo = self._legal_plan_sudo(plan_id, access_token)
        user = request.env.user
        if (
            not plan_sudo
            or user.commercial_partner_id != plan_sudo.partner_id.commercial_partner_id
        ):
            return request.redirect("/my")
        token = request.env["payment.token"].sudo().browse(self._cast_as_int(token_id)).exists()
        consent = (
            request.env["legal.payment.consent"]
            .sudo()
            .browse(self._cast_as_int(consent_id))
            .exists()
        )
        query = {"access_token": plan_sudo.access_token}
        try:
            # As the client (recorded as who accepted), with the rights to record it.
            plan_sudo.with_user(user).sudo()._legal_accept(
                token,
                ip_address=request.httprequest.remote_addr,
                user_agent=request.httprequest.user_agent.string,
                # The version read is required: a missing or unknown one accepts nothing.
                consent=consent or None,
            )
            query["message"] = "accepted"
        except UserError as exc:
            query["error"] = exc.args[0]
        return request.redirect(f"{plan_sudo.access_url}?{urlencode(query)}")

    @http.route(
        "/my/payment_plans/<int:plan_id>/instalments/<int:instalment_id>/pay",
        type="http",
        auth="public",
        website=True,
        sitemap=False,
    )
    def portal_pay_instalment(self, plan_id, instalment_id, access_token=None, **kw):
        """Open the payment form for what is still due on the instalment (a due or a future
        one)."""
        plan_sudo = self._legal_plan_sudo(plan_id, access_token)
        if not plan_sudo:
            return request.redirect("/my")
        instalment = plan_sudo.instalment_ids.filtered(lambda i: i.id == instalment_id)
        if (
            not instalment
            or plan_sudo.state != "running"
            or instalment.state in ("paid", "cancelled")
            or instalment.currency_id.is_zero(instalment.amount_due)
        ):
            return request.redirect(plan_sudo.get_portal_url())
        amount, currency = instalment.amount_due, instalment.currency_id
        partner = plan_sudo.partner_id
        params = {
            "legal_plan_instalment_id": instalment.id,
            "amount": amount,
            "currency_id": currency.id,
            "partner_id": partner.id,
            "company_id": plan_sudo.company_id.id,
            "access_token": utils.purpose_access_token(
                const.TOKEN_PURPOSE_INSTALMENT, instalment.id, partner.id, amount, currency.id
            ),
        }
        return request.redirect(f"/payment/pay?{urlencode(params)}")

    @http.route()
    def payment_pay(self, *args, amount=None, legal_plan_instalment_id=None, **kwargs):
        """Override of `payment` to pay an instalment of a payment plan: the access token must
        be the one of the plan's client, amount and currency.

        :param str legal_plan_instalment_id: the `legal.payment.plan.instalment` paid
        :raise ValidationError: if the instalment id or the access token is invalid
        """
        instalment_id = self._cast_as_int(legal_plan_instalment_id)
        if instalment_id:
            amount = self._cast_as_float(amount)
            instalment = (
                request.env["legal.payment.plan.instalment"].sudo().browse(instalment_id).exists()
            )
            plan = instalment.plan_id
            if not instalment or not utils.check_purpose_access_token(
                kwargs.get("access_token"),
                const.TOKEN_PURPOSE_INSTALMENT,
                instalment.id,
                plan.partner_id.id,
                amount,
                instalment.currency_id.id,
            ):
                raise ValidationError(_("The provided parameters are invalid."))
            # Odoo's form checks the generic token, made here on the server only: the page
            # gets the instalment's token back (`_get_extra_payment_form_values`).
            kwargs["access_token"] = payment_utils.generate_access_token(
                plan.partner_id.id, amount, instalment.currency_id.id
            )
            kwargs.update(
                {
                    "reference": plan.name,
                    "currency_id": instalment.currency_id.id,
                    "partner_id": plan.partner_id.id,
                    "company_id": plan.company_id.id,
                    "legal_plan_instalment_id": instalment_id,
                }
            )
        return super().payment_pay(*args, amount=amount, **kwargs)

    def _get_extra_payment_form_values(self, legal_plan_instalment_id=None, **kwargs):
        """Override of `payment`: an instalment has its own transaction route."""
        values = super()._get_extra_payment_form_values(**kwargs)
        instalment_id = self._cast_as_int(legal_plan_instalment_id)
        if instalment_id:
            instalment = (
                request.env["legal.payment.plan.instalment"].sudo().browse(instalment_id).exists()
            )
            if instalment:
                plan = instalment.plan_id
                values.update(
                    {
                        "transaction_route": f"/legal/plan/transaction/{instalment_id}",
                        "landing_route": f"{plan.access_url}?access_token="
                        f"{plan._portal_ensure_token()}",
                        "access_token": utils.purpose_access_token(
                            const.TOKEN_PURPOSE_INSTALMENT,
                            instalment.id,
                            plan.partner_id.id,
                            kwargs.get("amount"),
                            instalment.currency_id.id,
                        ),
                    }
                )
        return values

    @http.route("/legal/plan/transaction/<int:instalment_id>", type="json", auth="public")
    def legal_plan_transaction(self, instalment_id, access_token, amount, **kwargs):
        """Create the draft transaction paying an instalment and return its processing values.

        :param int instalment_id: the `legal.payment.plan.instalment` paid
        :param str access_token: the payment access token of (client, amount, currency)
        :param float amount: the amount paid
        :raise ValidationError: invalid token, instalment not payable, more than due on it,
            a trust provider (checked by `_create_transaction`)
        """
        instalment = (
            request.env["legal.payment.plan.instalment"].sudo().browse(instalment_id).exists()
        )
        plan = instalment.plan_id
        amount = amount and float(amount)
        if not instalment or not utils.check_purpose_access_token(
            access_token,
            const.TOKEN_PURPOSE_INSTALMENT,
            instalment.id,
            plan.partner_id.id,
            amount,
            instalment.currency_id.id,
        ):
            raise ValidationError(_("The access token is invalid."))
        try:
            instalment._legal_check_payable(amount, instalment.currency_id)
        except UserError as exc:
            raise ValidationError(exc.args[0]) from exc
        kwargs.pop("reference_prefix", None)  # the plan's own reference is used
        self._validate_transaction_kwargs(kwargs)
        tx_sudo = self._create_transaction(
            amount=amount,
            currency_id=instalment.currency_id.id,
            partner_id=plan.partner_id.id,
            reference_prefix=f"{plan.name}-{instalment.sequence}-P",
            custom_create_values={
                "invoice_ids": [Command.set(plan.invoice_ids.ids)],
                "legal_plan_instalment_id": instalment.id,
            },
            **kwargs,
        )
        return tx_sudo._get_processing_values()
