"""The encoder-decoder, its losses and its metrics: torch only, readable in one sitting."""
