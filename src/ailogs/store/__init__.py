"""The operations store: SQLAlchemy models, engine and sessions, repositories, rollups.

Configuration arrives through constructors (a URL, a schema); nothing here reads
settings or speaks HTTP.
"""
