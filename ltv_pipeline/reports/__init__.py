"""The reports users read: built from the warehouse, printed by `ltv report`, published
for the report page."""
