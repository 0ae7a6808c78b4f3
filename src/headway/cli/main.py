"""The `headway` command line."""

from __future__ import annotations

import click


@click.group()
def cli() -> None:
    """Headway: KPIs computed from real data."""


def main() -> None:
    cli()
