"""members package: the member registry (home store, source, consent, baby's age) over rebates' brand-wide points."""
