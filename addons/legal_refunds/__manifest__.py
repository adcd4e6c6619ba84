# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Legal Refunds",
    "summary": "Client refund wizard over credit notes, unallocated payments and trust "
    "balances, refunding through the payment provider",
    "version": "18.0.1.0.0",
    "category": "Accounting/Accounting",
    "website": "https://github.com/odoo-legal-payments/odoo-legal-payments",
    "author": "Odoo Legal Payments",
    "license": "LGPL-3",
    "depends": ["legal_payments"],
    "data": [],
    "demo": [],
    "installable": True,
}
