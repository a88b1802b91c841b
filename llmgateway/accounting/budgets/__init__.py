"""Spending budgets per key, team, model or the whole gateway, enforced across replicas."""
