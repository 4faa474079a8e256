"""postplan: plans, streams, stores, exports and publishes social-media content calendars."""

__version__ = "0.1.0"
