"""Floor 2, the one seam for database-specific speed-ups: prepared queries (`prepared`), the
bulk statements of the event write path (`bulk`), the database rate counters (`counters`), the
PostgreSQL change listener (`changes`), the health check's ping (`health`) and the SQLite
backend (`sqlite3`). Nothing above this package writes raw SQL or checks the database vendor;
this package imports nothing of the application, only the models.
"""
