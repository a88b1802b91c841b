"""The proxy's dashboard at ``/ui``: usage over time from the ledger, live deployment health and
recent calls, drawn as SVG by a self-contained page (nothing is loaded from elsewhere)."""

from llmgateway.server.dashboard.routes import dashboard_routes

__all__ = ["dashboard_routes"]
