"""rebates package."""
