# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo.http import request

from odoo.addons.account_payment.controllers.payment import PaymentPortal


class LegalPaymentPortal(PaymentPortal):

    def _create_transaction(
        self, provider_id, payment_method_id, token_id, amount, currency_id, partner_id, flow,
        tokenization_requested, landing_route, reference_prefix=None, is_validation=False,
        custom_create_values=None, **kwargs
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
            invoice_ids = env["payment.transaction"]._fields["invoice_ids"].convert_to_cache(
                values.get("invoice_ids") or [], env["payment.transaction"]
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
            provider_id, payment_method_id, token_id, amount, currency_id, partner_id, flow,
            tokenization_requested, landing_route, reference_prefix=reference_prefix,
            is_validation=is_validation, custom_create_values=custom_create_values, **kwargs
        )
