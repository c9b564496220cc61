"""Pure policy: masks, what a contract shows of a person, write-back, budget decisions.

Nothing here does I/O; the gateway and the CLI feed it rows and counts.
"""

from vigie.policy.budget import check_budget, check_rate
from vigie.policy.masks import MASKS
from vigie.policy.view import PSEUDONYM, READABLE_FIELDS, Budget, ContractView, union
from vigie.policy.writeback import WRITE_FIELDS, validate_write

__all__ = [
    "MASKS",
    "PSEUDONYM",
    "READABLE_FIELDS",
    "WRITE_FIELDS",
    "Budget",
    "ContractView",
    "check_budget",
    "check_rate",
    "union",
    "validate_write",
]
