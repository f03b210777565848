"""flow_graph package."""
