"""Web pages for the people who use the system: sign-in, role pages, the consumer check of a printed code."""
