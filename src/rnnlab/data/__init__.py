"""Pure NumPy / stdlib data handling: padding, tokenising, vocabularies, text readers."""
