"""crm package: member care over the sale facts — consumption, the clerk's tasks and their effect, segments and tiers,
campaigns and points, and the return of each source."""
