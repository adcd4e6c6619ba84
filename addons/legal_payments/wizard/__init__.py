from . import legal_statement_send
