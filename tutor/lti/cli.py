"""`tutor lti add-platform` and `tutor lti platforms`: register the LMSs that launch learners here."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from tutor.errors import DomainError
from tutor.lti import platforms
from tutor.privacy import audit
from tutor.settings import load_settings
from tutor.store.database import make_engine, make_sessions, upgrade

lti_app = typer.Typer(help="LTI 1.3: the LMS platforms and deployments whose learners may sign in.", no_args_is_help=True)


def _sessions():
    settings = load_settings()
    upgrade(settings.database_url)
    return make_sessions(make_engine(settings.database_url))


@lti_app.command("add-platform")
def add_platform(
    issuer: str = typer.Option(..., help="The platform's issuer (the iss of its launches)."),
    client_id: str = typer.Option(..., help="The client id the platform gave this tool."),
    login_url: str = typer.Option(..., help="The platform's OIDC authorisation endpoint."),
    deployment: list[str] = typer.Option(..., "--deployment", help="A deployment id to accept; repeat for several."),
    token_url: str | None = typer.Option(None, help="The platform's OAuth2 token endpoint (grades)."),
    jwks_url: str | None = typer.Option(None, help="Where the platform publishes its key set."),
    jwks_file: Path | None = typer.Option(None, help="The platform's key set (JWKS JSON), when it has no URL.", exists=True, dir_okay=False),
) -> None:
    """Register a platform; print its id."""
    try:
        jwks = json.loads(jwks_file.read_text(encoding="utf-8")) if jwks_file else None
    except (ValueError, UnicodeDecodeError) as exc:
        typer.echo(f"--jwks-file is not JSON text: {exc}", err=True)
        raise typer.Exit(2) from None
    sessions = _sessions()
    with sessions() as s, s.begin():
        try:
            added = platforms.add_platform(
                s, issuer=issuer, client_id=client_id, login_url=login_url, token_url=token_url, jwks_url=jwks_url, jwks=jwks, deployments=deployment,
            )
        except DomainError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(2) from None
        audit.record(s, "cli", "lti.platform.add", f"{added.id} {added.issuer} client={added.client_id}")
    typer.echo(f"platform {added.id}: {added.issuer} (client {added.client_id}), deployments {', '.join(added.deployments)}")


@lti_app.command("platforms")
def list_platforms() -> None:
    """The registered platforms, one a line: id, issuer, client id, where the keys come from, deployments."""
    sessions = _sessions()
    with sessions() as s:
        found = platforms.platforms(s)
    for p in found:
        keys = p.jwks_url or f"{len(p.jwks['keys']) if p.jwks else 0} pasted key(s)"
        typer.echo(f"{p.id}\t{p.issuer}\t{p.client_id}\t{keys}\t{','.join(p.deployments)}")
    if not found:
        typer.echo("no LTI platform registered; add one with `tutor lti add-platform`")


def register(app: typer.Typer) -> None:
    app.add_typer(lti_app, name="lti")
