"""`postplan serve`, `postplan migrate`, `postplan version`."""

from __future__ import annotations

import os
import signal
import socket
import sys
from pathlib import Path
from typing import NoReturn

import typer

from postplan import __version__
from postplan.cli.flags import create_default_flags_file
from postplan.cli.settings import load_settings
from postplan.config import AuthMode, is_loopback


def _refuse(message: str) -> NoReturn:
    typer.echo(f"postplan: {message}", err=True)
    raise typer.Exit(2)


def _check_dev_serving(host: str, uds: Path | None, proxy_headers: bool | None,
                       forwarded_allow_ips: str | None, trusted_networks: bool = False) -> None:
    """Exit 2 for a way of serving that would let AUTH_MODE=dev answer other machines.

    With `DEV_AUTH_TRUSTED_NETWORKS` set (a container's bridge network), a non-loopback bind is
    allowed: the app still answers only peers in those networks or on loopback."""
    if uds is None and not is_loopback(host) and not trusted_networks:
        _refuse(f"AUTH_MODE=dev refuses to listen on non-loopback address {host!r}; "
                "set AUTH_MODE=supabase or bind 127.0.0.1 (in a container on a bridge network: "
                "DEV_AUTH_TRUSTED_NETWORKS, see docs/deploy.md)")
    if proxy_headers or forwarded_allow_ips:
        _refuse("AUTH_MODE=dev refuses --proxy-headers/--forwarded-allow-ips: a request relayed "
                "by a proxy does not come from this machine; set AUTH_MODE=supabase")


def _owner_only_socket(path: Path) -> socket.socket:
    """A listening Unix socket at `path` that only this user can connect to.

    Created under umask 0177, so it is 0600 from the moment it exists (a chmod after bind
    would leave a window in which anyone could connect). uvicorn's own `--uds` makes it 0666.
    """
    if path.is_socket():
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
        except ConnectionRefusedError:
            path.unlink()  # left by a run that was killed: nothing listens on it any more
        except OSError as exc:
            _refuse(f"cannot use {path}: {exc.strerror}")
        else:
            _refuse(f"another server is listening on {path}")
        finally:
            probe.close()
    elif path.exists() or path.is_symlink():
        _refuse(f"{path} exists and is not a socket; remove it or choose another path")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(str(path))
    except OSError as exc:
        sock.close()
        _refuse(f"cannot listen on {path}: {exc.strerror}")
    finally:
        os.umask(old)
    sock.listen(2048)
    return sock


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        host: str = typer.Option("127.0.0.1", help="Address to bind."),
        port: int = typer.Option(8000, help="Port to bind."),
        uds: Path | None = typer.Option(
            None, help="Listen on this Unix socket instead of host:port. With AUTH_MODE=dev "
                       "it is created owner-only (0600), so only this user's processes connect."),
        proxy_headers: bool | None = typer.Option(
            None, "--proxy-headers/--no-proxy-headers",
            help="Take the client address and scheme from X-Forwarded-For/-Proto sent by "
                 "--forwarded-allow-ips. Default: on with AUTH_MODE=supabase; with "
                 "AUTH_MODE=dev always off (a relayed request is not from this machine)."),
        forwarded_allow_ips: str | None = typer.Option(
            None, help="Comma-separated proxy addresses trusted for --proxy-headers "
                       "(default: $FORWARDED_ALLOW_IPS, else 127.0.0.1,::1)."),
        worker: bool = typer.Option(True, help="Run the publish worker in this process."),
    ) -> None:
        """Start the API server (migrates a SQLite database itself)."""
        import uvicorn

        from postplan.app import create_app
        from postplan.core.httpserver import server_options
        from postplan.core.logging import configure_logging

        settings = load_settings()
        dev = settings.auth_mode is AuthMode.dev
        if dev:
            _check_dev_serving(host, uds, proxy_headers, forwarded_allow_ips,
                               trusted_networks=bool(settings.dev_auth_trusted_networks))
        configure_logging(settings.log_level, settings.log_file, settings.log_format)
        create_default_flags_file(settings)
        application = create_app(settings, run_worker=worker and settings.worker_enabled)
        # Dev mode never rewrites the client address from forwarded headers: dev auth decides
        # from the real peer (postplan.core.peer), and logs should show it too.
        config = uvicorn.Config(
            application, host=host, port=port, log_config=None, access_log=False,
            timeout_graceful_shutdown=10, **server_options(settings),
            proxy_headers=False if dev else proxy_headers is not False,
            forwarded_allow_ips=forwarded_allow_ips,
            uds=str(uds) if uds is not None and not dev else None)
        server = uvicorn.Server(config)
        sockets = [_owner_only_socket(uds)] if uds is not None and dev else None
        if uds is not None:
            # uvicorn re-raises SIGTERM once it has shut down; as an exception it lets the
            # `finally` below remove the socket file instead of killing the process first.
            signal.signal(signal.SIGTERM, _exit_on_sigterm)
        try:
            server.run(sockets=sockets)
        except KeyboardInterrupt:
            pass
        finally:
            for sock in sockets or []:
                sock.close()
            if uds is not None and uds.is_socket():
                uds.unlink()
        if not server.started:
            raise typer.Exit(3)

    @app.command()
    def migrate(revision: str = typer.Argument("head")) -> None:
        """Apply database migrations (additive only)."""
        from postplan.core.logging import configure_logging
        from postplan.core.migrate import upgrade

        settings = load_settings()
        configure_logging(settings.log_level, settings.log_file, settings.log_format)
        upgrade(settings.database_url, revision)
        typer.echo(f"migrated {settings.database_url.split('@')[-1]} to {revision}")

    @app.command()
    def version() -> None:
        """Print the version."""
        typer.echo(f"postplan {__version__} (python {sys.version.split()[0]})")
