"""AI providers: turn a brief's planned slots into entry copy written by a language model."""
