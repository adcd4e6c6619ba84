# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

import math
import uuid
from datetime import timedelta

from odoo import SUPERUSER_ID, _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import consteq, format_amount, format_date, format_datetime

from odoo.addons.legal_trust.utils import lock_rows

from .. import const

#: Set only by the client's confirmation, a revocation or the expiry, never by hand.
CONSENT_FIELDS = {
    "state",
    "consent_id",
    "consent_text",
    "accepted_by_id",
    "accepted_partner_id",
    "accepted_date",
    "accepted_ip",
    "accepted_user_agent",
    "revoked_by_id",
    "revoked_date",
    "confirmation_sent_date",
    "consent_link_expiry",
    "consent_source",
    "recorded_by_id",
    "recorded_date",
    "recorded_document_id",
    "access_token",
}


class LegalPaymentAuthorization(models.Model):
    """A client's recorded authorization to charge one of their stored payment methods.

    No stored method is ever charged without an authorization in force that covers the charge:
    the transaction gate (`payment.transaction._legal_check_authorization`) looks one up, under
    a row lock, before any charge made without the client at the keyboard.
    """

    _name = "legal.payment.authorization"
    _description = "Authorization to Charge a Stored Payment Method"
    _inherit = ["portal.mixin", "mail.thread"]
    _order = "id desc"
    _check_company_auto = True

    name = fields.Char(string="Reference", required=True, readonly=True, copy=False, default="/")
    company_id = fields.Many2one(
        comodel_name="res.company", required=True, default=lambda self: self.env.company
    )
    partner_id = fields.Many2one(
        string="Client",
        comodel_name="res.partner",
        required=True,
        index=True,
        tracking=True,
        help="The client who authorizes the charges (their commercial entity).",
    )
    token_id = fields.Many2one(
        string="Payment Method",
        comodel_name="payment.token",
        required=True,
        index=True,
        check_company=True,
        tracking=True,
        domain="[('partner_id', 'child_of', partner_id)]",
    )
    scope = fields.Selection(
        selection=[
            ("invoices", "Invoices"),
            ("payment_plan", "One Payment Plan"),
            ("trust_topup", "Trust Top-ups of One Matter"),
        ],
        required=True,
        default="invoices",
        tracking=True,
    )
    matter_id = fields.Many2one(
        string="Matter",
        comodel_name="legal.matter",
        index="btree_not_null",
        check_company=True,
        help="For trust top-ups: the only matter whose top-ups may be charged.",
    )
    currency_id = fields.Many2one(
        comodel_name="res.currency",
        required=True,
        default=lambda self: self.env.company.currency_id,
    )
    max_amount = fields.Monetary(
        string="Maximum per Charge", required=True, tracking=True, currency_field="currency_id"
    )
    date_start = fields.Date(
        string="Start Date", required=True, default=fields.Date.context_today, tracking=True
    )
    date_end = fields.Date(string="End Date", tracking=True)
    state = fields.Selection(
        selection=[
            ("awaiting", "Awaiting Client Confirmation"),
            ("active", "Active"),
            ("revoked", "Revoked"),
            ("expired", "Expired"),
        ],
        required=True,
        default="awaiting",
        readonly=True,
        tracking=True,
        copy=False,
    )
    consent_id = fields.Many2one(
        string="Consent Version",
        comodel_name="legal.payment.consent",
        readonly=True,
        copy=False,
        ondelete="restrict",
    )
    consent_text = fields.Text(
        string="Consent Text Shown",
        readonly=True,
        copy=False,
        help="The exact words the client accepted.",
    )
    accepted_by_id = fields.Many2one(
        string="Accepted By", comodel_name="res.users", readonly=True, copy=False
    )
    accepted_partner_id = fields.Many2one(
        string="Accepted By (Contact)",
        comodel_name="res.partner",
        readonly=True,
        copy=False,
        help="The person who accepted: the signed-in client, or the contact the confirmation "
        "link was e-mailed to.",
    )
    confirmation_sent_date = fields.Datetime(
        string="Confirmation Link Sent On", readonly=True, copy=False
    )
    accepted_date = fields.Datetime(string="Accepted On", readonly=True, copy=False)
    accepted_ip = fields.Char(string="IP Address", readonly=True, copy=False)
    accepted_user_agent = fields.Char(string="User Agent", readonly=True, copy=False)
    consent_link_expiry = fields.Datetime(
        string="Confirmation Link Valid Until",
        readonly=True,
        copy=False,
        help="The e-mailed confirmation link confirms the authorization once, until this "
        "moment; sending the link again replaces it.",
    )
    consent_source = fields.Selection(
        string="Consent Given",
        selection=[
            ("client", "Accepted by the client"),
            ("signed_document", "Recorded by the firm from a signed document"),
        ],
        readonly=True,
        copy=False,
    )
    recorded_by_id = fields.Many2one(
        string="Recorded By",
        comodel_name="res.users",
        readonly=True,
        copy=False,
        help="The firm's user who recorded an authorization the client signed on paper or "
        "electronically.",
    )
    recorded_date = fields.Datetime(string="Recorded On", readonly=True, copy=False)
    recorded_document_id = fields.Many2one(
        string="Signed Document",
        comodel_name="ir.attachment",
        readonly=True,
        copy=False,
        ondelete="restrict",
    )
    # The confirmation link's secret: the system administrator only, never other users.
    access_token = fields.Char(groups="base.group_system")
    revoked_by_id = fields.Many2one(
        string="Revoked By", comodel_name="res.users", readonly=True, copy=False
    )
    revoked_date = fields.Datetime(string="Revoked On", readonly=True, copy=False)
    plan_id = fields.Many2one(
        string="Payment Plan",
        comodel_name="legal.payment.plan",
        index="btree_not_null",
        check_company=True,
        help="For a payment plan: the only plan whose instalments may be charged.",
    )
    transaction_ids = fields.One2many(
        string="Charges",
        comodel_name="payment.transaction",
        inverse_name="legal_authorization_id",
        readonly=True,
    )

    _sql_constraints = [
        (
            "max_amount_positive",
            "CHECK(max_amount > 0)",
            "The maximum per charge must be positive.",
        ),
        (
            "dates_ordered",
            "CHECK(date_end IS NULL OR date_end >= date_start)",
            "The end date cannot be before the start date.",
        ),
    ]

    # === CONSTRAINTS === #

    @api.constrains("partner_id", "token_id", "scope", "matter_id")
    def _check_token_and_scope(self):
        for auth in self:
            client = auth.partner_id.commercial_partner_id
            if auth.token_id.partner_id.commercial_partner_id != client:
                raise ValidationError(_("The payment method belongs to another client."))
            if auth.scope == "trust_topup":
                if not auth.matter_id:
                    raise ValidationError(_("A trust top-up authorization names its matter."))
                if auth.matter_id.partner_id.commercial_partner_id != client:
                    raise ValidationError(_("This matter belongs to another client."))
            elif auth.matter_id:
                raise ValidationError(_("Only a trust top-up authorization names a matter."))

    @api.constrains("partner_id", "scope", "plan_id")
    def _check_plan(self):
        for auth in self:
            if auth.scope == "payment_plan":
                if not auth.plan_id:
                    raise ValidationError(_("A payment plan authorization names its plan."))
                if (
                    auth.plan_id.partner_id.commercial_partner_id
                    != auth.partner_id.commercial_partner_id
                ):
                    raise ValidationError(_("This payment plan belongs to another client."))
            elif auth.plan_id:
                raise ValidationError(_("Only a payment plan authorization names a plan."))

    # === CRUD === #

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._legal_check_consent_fields(vals)
            if vals.get("name", "/") == "/":
                vals["name"] = self.env["ir.sequence"].next_by_code(
                    "legal.payment.authorization"
                ) or _("New")
        return super().create(vals_list)

    def write(self, vals):
        self._legal_check_consent_fields(vals)
        frozen = {"partner_id", "token_id", "scope", "matter_id", "currency_id", "max_amount"}
        frozen |= {"date_start", "date_end"}
        frozen |= {"plan_id"}
        if frozen & set(vals) and any(auth._legal_has_consent() for auth in self):
            raise UserError(
                _(
                    "The client accepted these terms: revoke this authorization and ask for a "
                    "new one instead of changing it."
                )
            )
        return super().write(vals)

    def _legal_check_consent_fields(self, vals):
        """Refuse to set the state or the record of the client's consent directly: only the
        client's confirmation (`_legal_accept`), a revocation and the expiry set them.

        :raise AccessError: when a user (not the system) sets one of these fields
        """
        if not self.env.su and CONSENT_FIELDS & set(vals):
            raise AccessError(
                _(
                    "The status and the client's consent of an authorization to charge are "
                    "recorded only when the client confirms it, or when it is revoked."
                )
            )

    @api.ondelete(at_uninstall=False)
    def _unlink_except_accepted(self):
        if any(auth._legal_has_consent() for auth in self):
            raise UserError(_("An authorization a client accepted is kept: revoke it instead."))

    def _compute_access_url(self):
        res = super()._compute_access_url()
        for auth in self:
            auth.access_url = f"/my/payment_authorizations/{auth.id}"
        return res

    # === BUSINESS METHODS === #

    def _legal_render_consent(self, consent):
        """Return the consent text for this authorization, as the client will read it."""
        self.ensure_one()
        scope = dict(self._fields["scope"]._description_selection(self.env))[self.scope]
        if self.matter_id:
            scope = f"{scope}: {self.matter_id.display_name}"
        return consent.body.format(
            firm=self.company_id.name,
            client=self.partner_id.commercial_partner_id.name,
            method=self.token_id.display_name,
            scope=scope,
            maximum=format_amount(self.env, self.max_amount, self.currency_id),
            start=format_date(self.env, self.date_start),
            end=(
                _("to %s", format_date(self.env, self.date_end))
                if self.date_end
                else _("until revoked")
            ),
        )

    def _legal_consent_to_show(self):
        """Return the consent version and text the client reads for this authorization: the
        words accepted once it is accepted, else the current version rendered for its terms."""
        self.ensure_one()
        if self._legal_has_consent():
            return self.consent_id, self.consent_text
        consent = self.env["legal.payment.consent"]._legal_current(self.company_id)
        return consent, self._legal_render_consent(consent)

    def _legal_has_consent(self):
        """Whether the client's consent is on record: accepted by the client, or recorded by
        the firm from a document the client signed."""
        self.ensure_one()
        return bool(self.accepted_date or self.recorded_date)

    @api.model
    def _legal_is_person_acting(self):
        """Whether a person acts (a signed-in user or a visitor), rather than the system's own
        code (the superuser, as which nobody can sign in)."""
        return self.env.uid != SUPERUSER_ID

    def _legal_link_problem(self, link_token):
        """Return why ``link_token`` cannot confirm this authorization, or None when it can.

        The e-mailed link confirms once, until it expires: it is the authorization's access
        token, valid until `consent_link_expiry`; a link never e-mailed (no expiry) confirms
        nothing, and sending the link again replaces the previous one.

        :param str link_token: the token of the link the visitor opened
        :return: the message to show, or None
        """
        self.ensure_one()
        auth = self.sudo()
        if auth._legal_has_consent():
            return _(
                "This confirmation link was already used: the authorization is on record "
                "since %s.",
                format_datetime(self.env, auth.accepted_date or auth.recorded_date),
            )
        if not (link_token and auth.access_token and consteq(auth.access_token, link_token)):
            return _("This link is not valid: sign in to your account, or ask us for a new one.")
        if not auth.consent_link_expiry:
            return _(
                "This link cannot confirm the authorization: sign in to your account, or ask "
                "us to e-mail you a confirmation link."
            )
        if auth.consent_link_expiry < fields.Datetime.now():
            return _(
                "This confirmation link expired on %s: ask us to send you a new one.",
                format_datetime(self.env, auth.consent_link_expiry),
            )
        return None

    def _legal_check_accepting_person(self, link_token=None):
        """Refuse an acceptance by anyone but the client: a firm's user never accepts for
        a client; a signed-in user accepts only their own client's authorization; a visitor
        who is not signed in needs a valid, unexpired, unused confirmation link.

        :param str link_token: the token of the e-mailed link (visitors)
        :raise AccessError: a firm's user, or a user of another client
        :raise UserError: an invalid, expired or used link
        """
        user = self.env.user
        if not self._legal_is_person_acting():
            return
        if user._is_internal():
            raise AccessError(
                _(
                    "Only the client accepts an authorization to charge. To record one the "
                    "client signed on paper or electronically, attach the signed document "
                    "on the client's form (Consent to Charge)."
                )
            )
        for auth in self:
            if user._is_public():
                problem = auth._legal_link_problem(link_token)
                if problem:
                    raise UserError(problem)
            elif user.commercial_partner_id != auth.partner_id.commercial_partner_id:
                raise AccessError(_("This authorization is for another client."))

    def _legal_accept(
        self, ip_address=None, user_agent=None, consent=None, partner=None, link_token=None
    ):
        """Record the client's acceptance: who, when, from where, and the exact words read.

        Only the client accepts (see `_legal_check_accepting_person`); the consent version the
        person was shown is required, and must still be the current one.

        :param str ip_address: the client's IP address
        :param str user_agent: the client's browser user agent
        :param consent: the `legal.payment.consent` version shown to the client; required when
            a person accepts; when no longer the current one, nothing is accepted (the client
            must read the new text)
        :param partner: the `res.partner` who accepted (default: the current user's)
        :param str link_token: the e-mailed confirmation link's token (visitors not signed in)
        :raise AccessError: a firm's user, or a user of another client
        :raise UserError: when the authorization is not awaiting confirmation, has ended, the
            link is invalid, expired or used, or the consent text shown is missing or changed
        """
        today = fields.Date.context_today(self)
        for auth in self:
            if auth.state != "awaiting":
                if auth._legal_has_consent():
                    raise UserError(auth._legal_link_problem(None))
                raise UserError(_("Authorization %s is not awaiting confirmation.", auth.name))
            if auth.date_end and auth.date_end < today:
                raise UserError(_("Authorization %s has expired.", auth.name))
        self._legal_check_accepting_person(link_token)
        if self._legal_is_person_acting() and consent is None:
            raise UserError(_("Read the terms of the authorization, then confirm them."))
        for auth in self:
            current = self.env["legal.payment.consent"]._legal_current(auth.company_id)
            if consent is not None and consent != current:
                raise UserError(
                    _(
                        "The wording of the authorization changed while you were reading it: "
                        "please read the new text and confirm again."
                    )
                )
            auth.sudo().write(
                {
                    "state": "active",
                    "consent_id": current.id,
                    "consent_text": auth._legal_render_consent(current),
                    "consent_source": "client",
                    "consent_link_expiry": False,
                    "accepted_by_id": self._legal_acting_user().id,
                    "accepted_partner_id": (partner or self.env.user.partner_id).id,
                    "accepted_date": fields.Datetime.now(),
                    "accepted_ip": (ip_address or "")[:64],
                    "accepted_user_agent": (user_agent or "")[:512],
                }
            )
            auth.sudo().message_post(
                body=_(
                    "Confirmed by %(who)s from %(ip)s.",
                    who=(partner or self.env.user.partner_id).display_name,
                    ip=ip_address or _("an unknown address"),
                ),
                subtype_xmlid="mail.mt_note",
            )
        return True

    @api.model
    def _legal_consent_link_days(self):
        """How many days an e-mailed confirmation link stays valid (system parameter
        ``legal_payments.consent_link_days``, 30 by default)."""
        value = self.env["ir.config_parameter"].sudo().get_param(const.CONSENT_LINK_DAYS_PARAM)
        try:
            days = int(value)
        except (TypeError, ValueError):
            days = 0
        return days if days > 0 else const.CONSENT_LINK_DEFAULT_DAYS

    def _legal_mail_client(self, template_xmlid, attachment_ids=None):
        """E-mail the client a message carrying this authorization's secret link.

        The e-mail is rendered and created by the system, outside the authorization's
        chatter, and deleted once sent: no user of the firm can read the link it carries.

        :param str template_xmlid: the `mail.template` to render
        :param list attachment_ids: ids of `ir.attachment` to attach
        """
        self.ensure_one()
        template = self.env.ref(template_xmlid).with_user(SUPERUSER_ID)
        email_values = {
            "model": False,
            "res_id": False,
            "author_id": self.company_id.partner_id.id,
            "auto_delete": True,
        }
        if attachment_ids:
            email_values["attachment_ids"] = [fields.Command.set(attachment_ids)]
        template.send_mail(
            self.id, email_layout_xmlid="mail.mail_notification_light", email_values=email_values
        )

    def action_legal_send_confirmation(self):
        """E-mail the client a link to read the consent text and confirm the authorization.

        The link confirms once and expires after `_legal_consent_link_days` days; sending it
        again replaces the previous link (which stops working).

        :raise AccessError: when the user is not one of the firm's
        :raise UserError: when the authorization is not awaiting confirmation or the client
            has no e-mail address
        """
        if not self.env.user._is_internal():
            raise AccessError(_("Only the firm sends confirmation links."))
        self.check_access("write")
        for auth in self:
            if auth.state != "awaiting":
                raise UserError(_("Authorization %s is not awaiting confirmation.", auth.name))
            if not auth.partner_id.email:
                raise UserError(
                    _("%s has no e-mail address to send the link to.", auth.partner_id.name)
                )
            now = fields.Datetime.now()
            auth.sudo().write(
                {
                    "access_token": str(uuid.uuid4()),
                    "consent_link_expiry": now + timedelta(days=self._legal_consent_link_days()),
                    "confirmation_sent_date": now,
                }
            )
            auth._legal_mail_client("legal_payments.mail_template_authorization_confirmation")
            auth.message_post(
                body=_(
                    "Confirmation link sent to %(email)s, valid until %(expiry)s.",
                    email=auth.partner_id.email_formatted,
                    expiry=format_datetime(self.env, auth.consent_link_expiry),
                ),
                subtype_xmlid="mail.mt_note",
            )
        return True

    def _legal_record_signed_document(self, attachment):
        """Record an authorization the client signed on paper or electronically.

        Staff do not accept for the client: they record what the client signed, with the
        signed document. The authorization is in force, marked as recorded by the firm (who,
        when, the document), never as an acceptance; the client is e-mailed a copy with a
        link to revoke it.

        :param attachment: the `ir.attachment` of the signed document (required, not empty)
        :raise AccessError: when the user is not one of the firm's, or may not change the
            authorization
        :raise UserError: no document, or the authorization is not awaiting consent
        """
        self.ensure_one()
        user = self.env.user
        if not user._is_internal():
            raise AccessError(_("Only the firm records a signed authorization."))
        self.check_access("write")
        if self.state != "awaiting":
            raise UserError(_("Authorization %s is not awaiting confirmation.", self.name))
        attachment = attachment.sudo().exists()
        if not attachment or not attachment.file_size:
            raise UserError(_("Attach the document the client signed."))
        if attachment.res_model not in (False, self._name) or attachment.res_id not in (
            0,
            self.id,
        ):
            raise UserError(_("The signed document is attached to another record."))
        attachment.write({"res_model": self._name, "res_id": self.id})
        consent = self.env["legal.payment.consent"]._legal_current(self.company_id)
        self.sudo().write(
            {
                "state": "active",
                "consent_id": consent.id,
                "consent_text": self._legal_render_consent(consent),
                "consent_source": "signed_document",
                "consent_link_expiry": False,
                "recorded_by_id": user.id,
                "recorded_date": fields.Datetime.now(),
                "recorded_document_id": attachment.id,
                # A new secret for the client's copy: its link only shows and revokes.
                "access_token": str(uuid.uuid4()),
            }
        )
        self.message_post(
            body=_(
                "Recorded by %(user)s from the document the client signed (%(document)s); "
                "a copy was e-mailed to the client with a link to revoke it.",
                user=user.display_name,
                document=attachment.name,
            ),
            subtype_xmlid="mail.mt_note",
        )
        if self.partner_id.email:
            self._legal_mail_client(
                "legal_payments.mail_template_authorization_recorded", [attachment.id]
            )
        return True

    @api.model
    def _legal_create_for_client(self, token, scope, max_amount, matter=None, date_end=None):
        """Create the authorization a client asks for in the portal, awaiting their consent.

        :param token: the client's `payment.token` to charge
        :param str scope: ``invoices`` or ``trust_topup``
        :param float max_amount: the maximum per charge
        :param matter: for ``trust_topup``, one of the client's `legal.matter`
        :param date end: the optional end date
        :return: the new `legal.payment.authorization`, sudoed
        :raise UserError: on invalid terms; nothing is created
        """
        if not token.active:
            raise UserError(_("This payment method was removed."))
        if scope not in ("invoices", "trust_topup"):
            raise UserError(_("Choose what the charges are for: invoices or trust top-ups."))
        if not max_amount or not math.isfinite(max_amount) or max_amount <= 0:
            raise UserError(_("The maximum per charge must be positive."))
        if scope == "trust_topup" and not matter:
            raise UserError(_("Choose the matter whose trust top-ups may be charged."))
        today = fields.Date.context_today(self)
        if date_end and date_end < today:
            raise UserError(_("The end date cannot be in the past."))
        client = token.partner_id.commercial_partner_id
        company = token.company_id or self.env.company
        return self.sudo().create(
            {
                "partner_id": client.id,
                "token_id": token.id,
                "scope": scope,
                "matter_id": matter.id if scope == "trust_topup" else False,
                "company_id": company.id,
                "currency_id": (matter.currency_id if matter else company.currency_id).id,
                "max_amount": max_amount,
                "date_start": today,
                "date_end": date_end or False,
            }
        )

    def action_revoke(self):
        """Revoke the authorization: no further charge may rely on it."""
        for auth in self:
            if auth.state not in ("awaiting", "active"):
                raise UserError(_("Authorization %s is no longer in force.", auth.name))
        self._legal_lock()
        self.sudo().write(
            {
                "state": "revoked",
                "revoked_by_id": self._legal_acting_user().id,
                "revoked_date": fields.Datetime.now(),
            }
        )
        return True

    def _legal_acting_user(self):
        """Return the user acting, or no user for a client acting through an e-mailed link
        without signing in (the public user)."""
        user = self.env.user
        return self.env["res.users"] if user._is_public() else user

    def _legal_lock(self):
        """Lock the authorizations' rows: a revocation and a charge never overlap."""
        return lock_rows(self)

    def _legal_is_in_force(self, on_date=None):
        self.ensure_one()
        on_date = on_date or fields.Date.context_today(self)
        return (
            self.state == "active"
            and self.token_id.active
            and self.date_start <= on_date
            and (not self.date_end or on_date <= self.date_end)
        )

    @api.model
    def _legal_find_covering(self, token, amount, currency, scope, matter=None, plan=None):
        """Return the authorization in force that covers charging `amount` on `token`.

        The authorization found is locked until the end of the transaction, so that a
        concurrent revocation waits for the charge (or the charge sees the revocation).

        :param token: the `payment.token` to charge
        :param float amount: the amount to charge
        :param currency: the `res.currency` of the charge
        :param str scope: `invoices`, `payment_plan` or `trust_topup`
        :param matter: for `trust_topup`, the `legal.matter` topped up
        :param plan: for `payment_plan`, the `legal.payment.plan` whose instalment is charged
        :return: the sudoed `legal.payment.authorization`
        :raise UserError: with the reason when nothing covers the charge
        """
        domain = [("token_id", "=", token.id), ("scope", "=", scope)]
        if scope == "trust_topup":
            domain.append(("matter_id", "=", matter.id if matter else False))
        if scope == "payment_plan" and "plan_id" in self._fields:
            domain.append(("plan_id", "=", plan.id if plan else False))
        candidates = self.sudo().search(domain, order="id")._legal_lock()
        if not candidates:
            raise UserError(
                _(
                    "%(method)s of %(client)s has no authorization to charge it for this "
                    "payment.",
                    method=token.display_name,
                    client=token.partner_id.display_name,
                )
            )
        today = fields.Date.context_today(self)
        in_force = candidates.filtered(lambda a: a._legal_is_in_force(today))
        if not in_force:
            if candidates.filtered(lambda a: a.state == "revoked"):
                reason = _("the client revoked the authorization")
            elif candidates.filtered(lambda a: a.state == "awaiting"):
                reason = _("the client has not confirmed the authorization yet")
            elif candidates.filtered(
                lambda a: a.state == "expired" or (a.date_end and a.date_end < today)
            ):
                reason = _("the authorization has expired")
            elif candidates.filtered(lambda a: a.date_start > today):
                reason = _("the authorization starts later")
            else:
                reason = _("the payment method was removed")
            raise UserError(
                _(
                    "%(method)s cannot be charged: %(reason)s.",
                    method=token.display_name,
                    reason=reason,
                )
            )
        covering = in_force.filtered(
            lambda a: a.currency_id == currency
            and a.currency_id.compare_amounts(amount, a.max_amount) <= 0
        )
        if not covering:
            raise UserError(
                _(
                    "%(method)s cannot be charged %(amount)s: the client authorized at most "
                    "%(maximum)s per charge.",
                    method=token.display_name,
                    amount=format_amount(self.env, amount, currency),
                    maximum=format_amount(
                        self.env, max(in_force.mapped("max_amount")), in_force[0].currency_id
                    ),
                )
            )
        return covering[0]

    @api.model
    def _cron_expire(self):
        """Mark the authorizations whose end date has passed as expired."""
        today = fields.Date.context_today(self)
        self.sudo().search(
            [("state", "in", ("awaiting", "active")), ("date_end", "<", today)]
        ).write({"state": "expired"})
