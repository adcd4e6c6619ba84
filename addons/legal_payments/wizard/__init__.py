from . import legal_statement_send
from . import legal_payment_authorization_record
