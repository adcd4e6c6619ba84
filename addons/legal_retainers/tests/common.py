import uuid

from odoo.fields import Command

from odoo.addons.legal_payments.tests.common import WEBHOOK_SECRET
from odoo.addons.legal_trust.tests.common import LegalTrustCommon

# The webhook signing secret of the trust Stripe provider of LegalPaymentsCommon.
TRUST_SECRET = WEBHOOK_SECRET + "_trust"


class LegalRetainersCommon(LegalTrustCommon):
    """Trust fixtures plus a trust payment provider: Odoo's demo provider (installed beside the
    addons by scripts/test) on the trust bank journal, so that paying needs no network."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        demo = cls.env.ref("payment.payment_provider_demo", raise_if_not_found=False).sudo()
        assert (
            demo and demo.module_id.state == "installed"
        ), "payment_demo must be installed for these tests: run them through scripts/test"
        cls.demo_method = cls.env.ref("payment_demo.payment_method_demo")
        cls.trust_provider = demo.copy(
            {
                "name": "Trust (demo)",
                "company_id": cls.company.id,
                "journal_id": cls.trust_journal.id,
                "state": "test",
                "is_published": True,
                "payment_method_ids": [Command.set(cls.demo_method.ids)],
            }
        ).sudo(False)
        cls.matter_a.write(
            {
                "retainer_enabled": True,
                "retainer_initial_amount": 1000.0,
                "retainer_minimum_balance": 500.0,
                "retainer_topup_trigger": 300.0,
            }
        )

    def _pay(self, request, amount, cleared=True):
        """Pay ``amount`` of ``request`` as the portal route does: checks, then a trust
        deposit transaction, confirmed and post-processed."""
        request._retainer_check_payable(amount, request.currency_id)
        tx = self.env["payment.transaction"].create(
            {
                "provider_id": self.trust_provider.id,
                "payment_method_id": self.demo_method.id,
                "amount": amount,
                "currency_id": request.currency_id.id,
                "partner_id": request.partner_id.id,
                "reference": f"{request.name}-{uuid.uuid4().hex[:8]}",
                "operation": "online_direct",
                "legal_matter_id": request.matter_id.id,
                "legal_retainer_request_id": request.id,
            }
        )
        if cleared:
            tx._set_done()
            tx._post_process()
        else:
            # What the Stripe ACH flow does while the bank debit is processing.
            tx._set_pending()
            tx._legal_post_trust_deposit(cleared=False)
        return tx
