"""Master data: territories, parties and products, imported as one JSON document."""
