"""session_backup: keep every optimization session for years, restore any of them exactly."""

__version__ = "0.1.0"
