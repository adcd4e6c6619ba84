from . import legal_matter
from . import legal_retainer_request
from . import payment_transaction
from . import account_move
