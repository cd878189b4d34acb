"""Human review on top of machine scores: users, decisions, the final score (machine ⊕ human), triage, audit.

Modules: ``tables`` (schema, migration 8), ``final`` (pure final-score function), ``describe`` (findings as plain
sentences), ``triage`` (必检/抽检/免检), ``users`` (accounts, Argon2), ``service`` (reads/writes through the store,
every change audited), ``exchange`` (CSV export/import).
"""
