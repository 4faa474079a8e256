"""Media (issue 14): the creator's photos and videos, stored, inspected and handed to each
platform.

Upload (multipart and resumable tus), storage (a local folder or an S3-compatible bucket),
serving with Range and signed expiring URLs, and the background job that inspects each file and
stores its derived copies; other domains use `media.service`. `postplan.media.inspection` is the
pure part (no HTTP, no database): sniffing, probing, the platform checks and the derived copies.
"""
