"""Core of the traceability system: settings, database, tables, errors and the API app."""
