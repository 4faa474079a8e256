"""Media: the creator's photos and videos, stored, inspected and handed to each platform.

`postplan.media.inspection` is the pure part (no HTTP, no database): sniffing, probing,
the platform checks and the derived copies.
"""
