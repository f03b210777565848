"""O2O orders: routing, the one-hour rule, delivery as the store's sale (see ``orders.service``)."""
