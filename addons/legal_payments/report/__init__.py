from . import legal_billing_statement_report
