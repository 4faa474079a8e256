"""`postplan serve`, `postplan migrate`, `postplan version`."""

from __future__ import annotations

import sys

import typer
from pydantic import ValidationError

from postplan import __version__
from postplan.config import AuthMode, Settings, get_settings, is_loopback


def load_settings() -> Settings:
    """Settings, or exit 2 with a message naming each bad variable."""
    try:
        return get_settings()
    except ValidationError as exc:
        for err in exc.errors():
            name = ".".join(str(p) for p in err.get("loc", ())) or "configuration"
            typer.echo(f"postplan: invalid configuration: {name}: {err.get('msg')}", err=True)
        raise typer.Exit(2) from None


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        host: str = typer.Option("127.0.0.1", help="Address to bind."),
        port: int = typer.Option(8000, help="Port to bind."),
        worker: bool = typer.Option(True, help="Run the publish worker in this process."),
    ) -> None:
        """Start the API server (migrates a SQLite database itself)."""
        import uvicorn

        from postplan.app import create_app
        from postplan.core.httpserver import server_options
        from postplan.core.logging import configure_logging

        settings = load_settings()
        if settings.auth_mode is AuthMode.dev and not is_loopback(host):
            typer.echo(
                f"postplan: AUTH_MODE=dev refuses to listen on non-loopback address {host!r}; "
                "set AUTH_MODE=supabase or bind 127.0.0.1",
                err=True,
            )
            raise typer.Exit(2)
        configure_logging(settings.log_level, settings.log_file)
        application = create_app(settings, run_worker=worker and settings.worker_enabled)
        # server_options: the HTTP protocol with header size and read-time limits; every
        # listener this command opens must get them.
        uvicorn.run(application, host=host, port=port, log_config=None, access_log=False,
                    timeout_graceful_shutdown=10, **server_options(settings))

    @app.command()
    def migrate(revision: str = typer.Argument("head")) -> None:
        """Apply database migrations (additive only)."""
        from postplan.core.logging import configure_logging
        from postplan.core.migrate import upgrade

        settings = load_settings()
        configure_logging(settings.log_level, settings.log_file)
        upgrade(settings.database_url, revision)
        typer.echo(f"migrated {settings.database_url.split('@')[-1]} to {revision}")

    @app.command()
    def version() -> None:
        """Print the version."""
        typer.echo(f"postplan {__version__} (python {sys.version.split()[0]})")
