"""The ``traceability`` command: one tree, a group per domain."""
