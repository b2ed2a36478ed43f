"""Customer service: consumer questions and their topics (`livecart service ...`)."""
