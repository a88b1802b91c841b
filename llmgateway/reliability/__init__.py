"""Trying deployments in turn, and what survives a failure."""
