"""``traceability demo``: a realistic brand network, two months of goods with planted diversion, detected, settled."""
