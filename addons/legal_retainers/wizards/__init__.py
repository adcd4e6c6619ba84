from . import legal_retainer_request_wizard
