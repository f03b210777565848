"""The store's point of sale: the till's sales, free units, undo, receipts, receiving and opening cases."""
