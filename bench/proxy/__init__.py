"""``python -m bench.proxy``: the drop-in proxy's throughput, latency and memory against two
bare pass-through floors (see ``bench/proxy/__main__.py``)."""
