from . import legal_statement_send
from . import legal_payment_authorization_record
from . import legal_payments_setup_wizard
