"""`postplan tokens genkey|reencrypt`: making a token key and rotating to it."""

from __future__ import annotations

import asyncio

import typer


def register(app: typer.Typer) -> None:
    tokens = typer.Typer(help="Channel-token encryption keys (TOKEN_ENCRYPTION_KEY).",
                         no_args_is_help=True)
    app.add_typer(tokens, name="tokens")

    @tokens.command("genkey")
    def genkey() -> None:
        """Print a new random key (put it FIRST in TOKEN_ENCRYPTION_KEY, old keys after it)."""
        from postplan.core.crypto import new_key

        typer.echo(new_key())

    @tokens.command("reencrypt")
    def reencrypt() -> None:
        """Rewrite every stored secret (channel tokens, OAuth verifiers, webhook signing
        secrets) under the first key of TOKEN_ENCRYPTION_KEY.

        Exit 0 when every value is now under that key; 1 when some could not be read with any
        configured key (they are left untouched and counted).
        """
        from postplan.cli.settings import load_settings
        from postplan.core.crypto import TokenCipher
        from postplan.core.db import create_engine
        from postplan.core.rotation import reencrypt_columns
        from postplan.notifications.store import ENCRYPTED as WEBHOOK_SECRETS
        from postplan.publishing.connections.rotation import ENCRYPTED as CHANNEL_SECRETS

        settings = load_settings()
        if settings.token_encryption_key is None:
            typer.echo("TOKEN_ENCRYPTION_KEY is not set", err=True)
            raise typer.Exit(2)
        cipher = TokenCipher(settings.token_encryption_key.get_secret_value())

        async def run() -> tuple[int, int, int]:
            engine = create_engine(settings.database_url,
                                   disable_statement_cache=settings.database_disable_statement_cache,
                                   pool_size=1)
            try:
                report = await reencrypt_columns(engine, cipher,
                                                 (*CHANNEL_SECRETS, *WEBHOOK_SECRETS))
            finally:
                await engine.dispose()
            return report.rewritten, report.current, report.unreadable

        rewritten, current, unreadable = asyncio.run(run())
        typer.echo(f"re-encrypted {rewritten}, already current {current}, "
                   f"unreadable {unreadable}")
        if unreadable:
            raise typer.Exit(1)
