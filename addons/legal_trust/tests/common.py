from contextlib import contextmanager

from odoo.fields import Command

from odoo.addons.account.tests.common import AccountTestInvoicingCommon


class LegalTrustCommon(AccountTestInvoicingCommon):
    """A company with its chart of accounts, a trust bank journal, two clients and
    three matters, and a Trust User and a Trust Manager."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.company_data["company"]
        cls.trust_journal = cls.env["account.journal"].create(
            {
                "name": "Client Trust Account",
                "code": "TRT",
                "type": "bank",
                "is_trust_account": True,
                "company_id": cls.company.id,
            }
        )
        cls.operating_journal = cls.company_data["default_journal_bank"]
        cls.trust_account = cls.company._legal_trust_liability_account()
        cls.client_a = cls.env["res.partner"].create(
            {"name": "Client A", "email": "a@example.com", "company_id": False}
        )
        cls.client_b = cls.env["res.partner"].create(
            {"name": "Client B", "email": "b@example.com", "company_id": False}
        )
        cls.payee = cls.env["res.partner"].create({"name": "Expert Witness"})
        Matter = cls.env["legal.matter"]
        cls.matter_a = Matter.create({"title": "A v. Z", "partner_id": cls.client_a.id})
        cls.matter_a2 = Matter.create({"title": "A: lease", "partner_id": cls.client_a.id})
        cls.matter_b = Matter.create({"title": "B estate", "partner_id": cls.client_b.id})
        cls.trust_user = cls._legal_user("trust_user", "legal_trust.group_trust_user")
        cls.trust_manager = cls._legal_user("trust_manager", "legal_trust.group_trust_manager")

    @classmethod
    def _legal_user(cls, login, group_xmlid):
        return cls.env["res.users"].create(
            {
                "name": login.replace("_", " ").title(),
                "login": login,
                "password": login + "-pass-1234",
                "email": f"{login}@example.com",
                "company_id": cls.company.id,
                "company_ids": [Command.set(cls.company.ids)],
                "groups_id": [
                    Command.set([cls.env.ref("base.group_user").id, cls.env.ref(group_xmlid).id])
                ],
            }
        )

    @contextmanager
    def assertRefused(self, exception, pattern):
        """``assertRaises`` (which rolls back to a savepoint) plus the message check."""
        with self.assertRaises(exception) as caught:
            yield caught
        self.assertRegex(str(caught.exception), pattern)

    def _invoice(self, matter, amount, post=True):
        invoice = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": matter.partner_id.id,
                "matter_id": matter.id,
                "invoice_line_ids": [
                    Command.create(
                        {
                            "name": "Legal services",
                            "quantity": 1,
                            "price_unit": amount,
                            "tax_ids": [Command.clear()],
                        }
                    )
                ],
            }
        )
        if post:
            invoice.action_post()
        return invoice

    def _ledger_lines(self, matter):
        return self.env["account.move.line"].search(
            [("matter_id", "=", matter.id), ("parent_state", "=", "posted")]
        )
