# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Legal Trust Accounting",
    "summary": "Matters, client trust ledgers on Odoo's accounting engine, "
    "no overdraft, three-way reconciliation",
    "version": "18.0.1.0.0",
    "category": "Accounting/Accounting",
    "website": "https://github.com/odoo-legal-payments/odoo-legal-payments",
    "author": "Odoo Legal Payments",
    "license": "LGPL-3",
    "depends": ["account"],
    "data": [],
    "demo": [],
    "installable": True,
    "application": True,
}
