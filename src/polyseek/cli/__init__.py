"""Command-line interface: thin commands that call :class:`polyseek.Engine`."""
