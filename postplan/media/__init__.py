"""Media (issue 14): the library of uploaded photos and videos.

Upload (multipart and resumable tus), storage (a local folder or an S3-compatible bucket),
serving with Range and signed expiring URLs, and the background job that inspects each file
(`inspection/`, pure code) and stores its derived copies. Other domains use `media.service`.
"""
