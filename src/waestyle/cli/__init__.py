"""The `waestyle` command: one module per command group, each thin over the services below."""

from waestyle.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
