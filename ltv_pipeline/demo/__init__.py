"""A synthetic SamCart business for `ltv demo`: exports and webhook deliveries that look real."""
