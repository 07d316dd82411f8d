"""What the project forgets: declined reports and old conversations in Rasa's tracker store."""
