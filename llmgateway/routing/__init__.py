"""Deployments and the policies that pick one for each call."""
