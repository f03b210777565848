"""API keys, roles and the party scope every query applies."""
