"""The rule language: QA leads compose checks as data (YAML) — conditions over the transcript and timeline,
a boolean expression over them, and what the rule yields (a finding, a requirement, or a tag).

See docs/rules.md. `loader` reads and validates rule files, `engine` evaluates them on one call,
`operators` holds the operators.
"""

from .loader import RuleError, load_rule_file
from .model import Rule

__all__ = ["Rule", "RuleError", "load_rule_file"]
