"""The webhook sidecar: lands every SamCart delivery durably before answering 2xx."""
