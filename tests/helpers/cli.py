"""Run the CLI in-process (typer's CliRunner), re-raising anything but a clean exit."""

from __future__ import annotations

from typer.testing import CliRunner

from polyseek.cli.app import app

runner = CliRunner()


def cli(*args: str) -> tuple[int, str, str]:
    """``(exit code, stdout, stderr)`` of ``polyseek ARGS``."""
    result = runner.invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr
