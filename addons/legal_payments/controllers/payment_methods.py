# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo import fields, http
from odoo.exceptions import AccessError, MissingError, UserError, ValidationError
from odoo.http import request

from odoo.addons.portal.controllers.portal import CustomerPortal
from odoo.addons.portal.controllers.portal import pager as portal_pager


class LegalPaymentMethodPortal(CustomerPortal):
    """The client's stored payment methods (default, authorizations) and their authorizations
    to charge them: list, read, confirm, revoke."""

    _authorizations_per_page = 20

    def _prepare_home_portal_values(self, counters):
        values = super()._prepare_home_portal_values(counters)
        if "legal_authorization_count" in counters:
            Authorization = request.env["legal.payment.authorization"]
            values["legal_authorization_count"] = (
                Authorization.search_count([]) if Authorization.has_access("read") else 0
            )
        return values

    # === Stored payment methods === #

    @staticmethod
    def _legal_client_token(token_id):
        """Return the signed-in client's active payment method `token_id`, sudoed, or an empty
        recordset when it is not theirs."""
        Token = request.env["payment.token"]
        return Token.sudo().search(
            [("id", "=", token_id), *Token._legal_usable_by_domain(request.env.user.partner_id)],
            limit=1,
        )

    @http.route(
        "/my/payment_method/<int:token_id>/default",
        type="http",
        methods=["POST"],
        auth="user",
        website=True,
    )
    def legal_make_default(self, token_id, **kwargs):
        """Make one of the client's payment methods their default ("Make default")."""
        token_sudo = self._legal_client_token(token_id)
        if not token_sudo:
            return request.not_found()
        token_sudo.action_legal_make_default()
        return request.redirect("/my/payment_method")

    def _legal_render_authorize_form(self, token_sudo, values=None, error=None):
        client = token_sudo.partner_id.commercial_partner_id
        matters = (
            request.env["legal.matter"]
            .sudo()
            .search([("partner_id", "child_of", client.id), ("state", "!=", "closed")])
        )
        rendering = self._prepare_portal_layout_values()
        rendering.update(
            {
                "token": token_sudo,
                "matters": matters,
                "values": values or {},
                "error": error,
                "page_name": "legal_authorization",
            }
        )
        return request.render("legal_payments.portal_authorize_payment_method", rendering)

    @http.route(
        "/my/payment_method/<int:token_id>/authorize",
        type="http",
        methods=["GET", "POST"],
        auth="user",
        website=True,
    )
    def legal_authorize_payment_method(self, token_id, **post):
        """ "Authorize future charges" on a stored payment method: the client sets the terms,
        then reads the consent text rendered for them and confirms it."""
        token_sudo = self._legal_client_token(token_id)
        if not token_sudo or not token_sudo.active:
            return request.not_found()
        if request.httprequest.method != "POST":
            return self._legal_render_authorize_form(token_sudo)
        matter = request.env["legal.matter"]
        matter_id = self._legal_cast_int(post.get("matter_id"))
        client = token_sudo.partner_id.commercial_partner_id
        if matter_id:
            matter = (
                matter.sudo()
                .search([("id", "=", matter_id), ("partner_id", "child_of", client.id)])
                .exists()
            )
        try:
            max_amount = float(post.get("max_amount") or 0.0)
            date_end = fields.Date.to_date(post.get("date_end") or None)
        except ValueError:
            return self._legal_render_authorize_form(
                token_sudo, post, error=request.env._("Enter an amount and a valid date.")
            )
        try:
            authorization = request.env["legal.payment.authorization"]._legal_create_for_client(
                token_sudo,
                post.get("scope"),
                max_amount,
                matter=matter or None,
                date_end=date_end,
            )
        except (UserError, ValidationError) as exc:
            request.env.cr.rollback()
            return self._legal_render_authorize_form(token_sudo, post, error=exc.args[0])
        return request.redirect(authorization.get_portal_url())

    @staticmethod
    def _legal_cast_int(value):
        try:
            return int(value)
        except (TypeError, ValueError):
            return None

    # === Authorizations to charge === #

    @http.route(
        ["/my/payment_authorizations", "/my/payment_authorizations/page/<int:page>"],
        type="http",
        auth="user",
        website=True,
    )
    def portal_my_payment_authorizations(self, page=1, **kwargs):
        """The client's authorizations to charge their stored payment methods."""
        Authorization = request.env["legal.payment.authorization"]
        total = Authorization.search_count([])
        pager = portal_pager(
            url="/my/payment_authorizations",
            total=total,
            page=page,
            step=self._authorizations_per_page,
        )
        authorizations = Authorization.search(
            [], limit=self._authorizations_per_page, offset=pager["offset"]
        )
        values = self._prepare_portal_layout_values()
        values.update(
            {
                "authorizations": authorizations.sudo(),
                "pager": pager,
                "page_name": "legal_authorization",
                "default_url": "/my/payment_authorizations",
            }
        )
        request.session["my_payment_authorizations_history"] = authorizations.ids[:100]
        return request.render("legal_payments.portal_my_payment_authorizations", values)

    def _legal_render_authorization(self, auth_sudo, access_token, error=None, status=200):
        consent, consent_text = auth_sudo._legal_consent_to_show()
        user = request.env.user
        link_error = None
        if auth_sudo.state == "awaiting":
            if user._is_internal():
                link_error = request.env._(
                    "Only the client accepts an authorization to charge: the firm records one "
                    "the client signed, with the signed document, on the client's form."
                )
            elif user._is_public():
                link_error = auth_sudo._legal_link_problem(access_token)
            elif user.commercial_partner_id != auth_sudo.partner_id.commercial_partner_id:
                link_error = request.env._("This authorization is for another client.")
        values = self._get_page_view_values(
            auth_sudo,
            access_token,
            {
                "authorization": auth_sudo,
                "consent": consent,
                "consent_text": consent_text,
                "in_force": auth_sudo._legal_is_in_force(),
                "ended": bool(
                    auth_sudo.date_end and auth_sudo.date_end < fields.Date.context_today(auth_sudo)
                ),
                "error": error,
                "link_error": link_error,
                "page_name": "legal_authorization",
            },
            "my_payment_authorizations_history",
            False,
        )
        return request.render(
            "legal_payments.portal_my_payment_authorization", values, status=status
        )

    @http.route(
        "/my/payment_authorizations/<int:authorization_id>",
        type="http",
        methods=["GET"],
        auth="public",
        website=True,
    )
    def portal_my_payment_authorization(self, authorization_id, access_token=None, **kwargs):
        """One authorization: its terms and the exact consent text; confirm or revoke it."""
        try:
            auth_sudo = self._document_check_access(
                "legal.payment.authorization", authorization_id, access_token
            )
        except (AccessError, MissingError):
            return request.redirect("/my")
        return self._legal_render_authorization(auth_sudo, access_token)

    @http.route(
        "/my/payment_authorizations/<int:authorization_id>/confirm",
        type="http",
        methods=["POST"],
        auth="public",
        website=True,
    )
    def portal_confirm_payment_authorization(
        self, authorization_id, access_token=None, consent_id=None, accept=None, **kwargs
    ):
        """The client accepts the consent text shown: who, when, IP address and user agent.

        Only the client accepts: signed in as one of the client's users, or not signed in with
        the e-mailed link (valid once, until it expires); a user of the firm or of another
        client is refused (`legal.payment.authorization._legal_accept`)."""
        try:
            auth_sudo = self._document_check_access(
                "legal.payment.authorization", authorization_id, access_token
            )
        except (AccessError, MissingError):
            return request.redirect("/my")
        if not accept:
            return self._legal_render_authorization(
                auth_sudo,
                access_token,
                error=request.env._("Tick the box to confirm that you accept these terms."),
                status=400,
            )
        consent = (
            request.env["legal.payment.consent"]
            .sudo()
            .browse(self._legal_cast_int(consent_id) or [])
        )
        user = request.env.user
        partner = auth_sudo.partner_id if user._is_public() else user.partner_id
        try:
            auth_sudo.with_user(user).sudo()._legal_accept(
                ip_address=request.httprequest.remote_addr,
                user_agent=request.httprequest.headers.get("User-Agent"),
                consent=consent,
                partner=partner,
                link_token=access_token,
            )
        except (AccessError, UserError) as exc:
            request.env.cr.rollback()
            return self._legal_render_authorization(
                auth_sudo,
                access_token,
                error=exc.args[0],
                status=403 if isinstance(exc, AccessError) else 400,
            )
        return request.redirect(
            auth_sudo.get_portal_url() if access_token else auth_sudo.access_url
        )

    @http.route(
        "/my/payment_authorizations/<int:authorization_id>/revoke",
        type="http",
        methods=["POST"],
        auth="public",
        website=True,
    )
    def portal_revoke_payment_authorization(self, authorization_id, access_token=None, **kwargs):
        """The client revokes the authorization: no further charge relies on it."""
        try:
            auth_sudo = self._document_check_access(
                "legal.payment.authorization", authorization_id, access_token
            )
        except (AccessError, MissingError):
            return request.redirect("/my")
        user = request.env.user
        try:
            auth_sudo.with_user(user).sudo().action_revoke()
        except UserError as exc:
            request.env.cr.rollback()
            return self._legal_render_authorization(
                auth_sudo, access_token, error=exc.args[0], status=400
            )
        auth_sudo.message_post(
            body=request.env._(
                "Revoked by %(who)s in the client portal, from %(ip)s.",
                who=(auth_sudo.partner_id if user._is_public() else user.partner_id).display_name,
                ip=request.httprequest.remote_addr,
            ),
            subtype_xmlid="mail.mt_note",
        )
        return request.redirect(
            auth_sudo.get_portal_url() if access_token else auth_sudo.access_url
        )
