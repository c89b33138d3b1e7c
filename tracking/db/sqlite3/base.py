"""Django's SQLite backend with its placeholder rewriting remembered per statement.

Before running a statement Django rewrites its `%s` placeholders to SQLite's `?` with a regular
expression whose look-behind is tried at every character: about 19 µs for the timeline's
2,400-character head query, more than SQLite takes to answer it. The hot statements are the
same text every time (tracking.db.prepared), so the rewritten text is kept, keyed by the original;
statements longer than CACHED_LENGTH (large batches) are rewritten each time as before.
"""

from functools import lru_cache

from django.db.backends.sqlite3 import base

CACHED_LENGTH = 8192


@lru_cache(maxsize=512)
def _cached_qmark(query: str) -> str:
    return base.FORMAT_QMARK_REGEX.sub("?", query).replace("%%", "%")


class SQLiteCursorWrapper(base.SQLiteCursorWrapper):
    def convert_query(self, query, *, param_names=None):
        if param_names is None and len(query) <= CACHED_LENGTH:
            return _cached_qmark(query)
        return super().convert_query(query, param_names=param_names)


class DatabaseWrapper(base.DatabaseWrapper):
    def create_cursor(self, name=None):
        return self.connection.cursor(factory=SQLiteCursorWrapper)
