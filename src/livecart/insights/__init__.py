"""Consumer insights: customer-base models (BG/NBD, Gamma-Gamma) and their reports."""
