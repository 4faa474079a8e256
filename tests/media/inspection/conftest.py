from tests.fixtures.media_files import media_files

__all__ = ["media_files"]
