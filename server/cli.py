"""The `waiqin` command: serve, migrate, manage users, create the demo team."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

from .accounts import Accounts
from .config import Config
from .db import make_engine, migrate
from .errors import HTTPError, WaiqinError

T = TypeVar("T")
DRAIN_SECONDS = 2.0  # how long a command waits, at its end, for the tasks its work left
DEMO_PASSWORD = "waiqin-demo"
DEMO_TEAM = (
    # login, role, manager, display name. The names are what a Chinese team's screens show,
    # in either language: a person's name is not translated (the login says the role).
    ("admin", "admin", None, "刘洋"),
    ("manager", "manager", None, "张伟"),
    ("rep1", "rep", "manager", "李明"),
    ("rep2", "rep", "manager", "王芳"),
    ("engineer", "engineer", "manager", "赵磊"),
)


def _config(args: argparse.Namespace) -> Config:
    return Config.from_env(
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        database_url=getattr(args, "database", None),
        blobs_dir=Path(args.blobs) if getattr(args, "blobs", None) else None,
        data_dir=Path(args.data) if getattr(args, "data", None) else None,
    )


async def _demo(cfg: Config) -> list[tuple[str, str]]:
    """Create the demo team where missing; returns (login, role) of every member."""
    engine = make_engine(cfg.database)
    try:
        accounts = Accounts(engine)
        out = []
        for login, role, manager, name in DEMO_TEAM:
            if await accounts.by_login(login) is None:
                await accounts.add_user(
                    login, DEMO_PASSWORD, role=role, name=name, manager_login=manager
                )
            out.append((login, role))
        return out
    finally:
        await engine.dispose()


def _print_demo(team: list[tuple[str, str]]) -> None:
    print(f"Demo logins (password for all: {DEMO_PASSWORD}):")
    for login, role in team:
        print(f"  {login:<10} {role}")


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import create_app

    cfg = _config(args)
    migrate(cfg.database)
    if args.demo:
        _print_demo(asyncio.run(_demo(cfg)))
    print(f"Waiqin on http://{cfg.host}:{cfg.port}  (database: {cfg.database})", flush=True)
    uvicorn.run(
        create_app(cfg, run_migrations=False),
        host=cfg.host,
        port=cfg.port,
        log_level=args.log_level,
        ws_max_size=cfg.max_frame + 1024,
        ws_ping_interval=20,
        ws_ping_timeout=20,
        # SIGTERM to exit within 10 s: 2 s for requests in flight (a device resends what
        # was not acked; uploads resume), then the lifespan's exit (at most 0.5 s for the
        # duplicate finder, 1 s for the server's own edits, then the log's last commit).
        timeout_graceful_shutdown=2,
    )
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    cfg = _config(args)
    migrate(cfg.database)
    print(f"database at the newest schema: {cfg.database}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    cfg = _config(args)
    migrate(cfg.database)
    _print_demo(asyncio.run(_demo(cfg)))
    return 0


def cmd_reproject(args: argparse.Namespace) -> int:
    from .reproject import reproject

    cfg = _config(args)
    migrate(cfg.database)

    async def run() -> int:
        engine = make_engine(cfg.database)
        try:
            return await reproject(engine)
        finally:
            await engine.dispose()

    print(f"reprojected {asyncio.run(run())} records")
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    cfg = _config(args)
    migrate(cfg.database)
    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {args.login}: ")
    else:
        password = sys.stdin.readline().rstrip("\n")

    async def run() -> None:
        engine = make_engine(cfg.database)
        try:
            user = await Accounts(engine).add_user(
                args.login, password, role=args.role, name=args.name,
                manager_login=args.manager,
            )
            print(f"created {user.login} ({user.role}) id {user.id}")
        finally:
            await engine.dispose()

    asyncio.run(run())
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """Import customers from a spreadsheet: the dry run's refusals, or the import with a
    progress line. The server's own services run in this process (its hub, its rules)."""
    from .app import create_app
    from .importer import Importer, Progress, read_file

    cfg = _config(args)
    migrate(cfg.database)
    path = Path(args.file)
    sheet = read_file(path.name, path.read_bytes())

    async def run() -> int:
        app = create_app(cfg, run_migrations=False)
        async with app.router.lifespan_context(app):
            svc = app.state.services
            admin = None
            if args.as_login:
                admin = await svc.accounts.by_login(args.as_login)
                if admin is None or admin.role != "admin" or admin.disabled_at:
                    print(f"waiqin: --as {args.as_login}: not an active admin's login",
                          file=sys.stderr)
                    return 2
            elif not args.dry_run:
                print("waiqin: the import sets owners and creation dates: name the admin "
                      "who imports with --as ADMIN_LOGIN", file=sys.stderr)
                return 2
            importer = Importer(svc.edits)
            mapping = await importer.mapping_for(sheet)
            plan = await importer.plan(sheet, mapping, args.on_match)
            counts = {a: plan.count(a) for a in
                      ("create", "merge", "skip", "unchanged", "contact", "refuse")}
            print(f"{sheet.filename}: header in row {sheet.header_row}, {len(plan.rows)} rows: "
                  + ", ".join(f"{n} {a}" for a, n in counts.items() if n), flush=True)
            for r in plan.refused:
                for problem in r.problems:
                    print(f"  {problem.message}  /  {problem.message_zh}")
            if plan.refused:
                print("nothing imported: fix the refused rows and run again", file=sys.stderr)
                return 1
            if args.dry_run:
                return 0
            assert admin is not None
            await importer.save_mapping(sheet, plan.mapping, admin.id)

            def show(p: Progress) -> None:
                print(f"\rimported {p.done}/{p.total}", end="", flush=True)

            prog = await importer.run(plan, admin.id, on_progress=show)
            await svc.edits.settle()  # the merges the duplicate rule makes
            print(f"\n{prog.created} customers created", flush=True)
            return 0

    return asyncio.run(_drained(run()))


async def _drained(main: Coroutine[Any, Any, T]) -> T:
    """`main`, then the tasks it left (the server's own edits still running when its
    lifespan ended) are waited for, not cancelled: asyncio.run cancels what is left, and a
    task cancelled while aiosqlite closes its connection never ends (the command hung)."""
    try:
        return await main
    finally:
        left = asyncio.all_tasks() - {asyncio.current_task()}
        if left:
            await asyncio.wait(left, timeout=DRAIN_SECONDS)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="waiqin", description="Waiqin field CRM server")
    sub = ap.add_subparsers(dest="cmd", required=True)

    def db_opts(p: argparse.ArgumentParser) -> None:
        p.add_argument("--database", help="database URL (default: sqlite file in ./data)")
        p.add_argument("--data", help="data directory (default ./data)")

    s = sub.add_parser("serve", help="run migrations, then serve HTTP and websockets")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--blobs", help="blob directory (default ./data/blobs)")
    s.add_argument("--demo", action="store_true", help="create the demo team if missing")
    s.add_argument("--log-level", default="info")
    db_opts(s)
    s.set_defaults(fn=cmd_serve)

    m = sub.add_parser("migrate", help="bring the database to the newest schema")
    db_opts(m)
    m.set_defaults(fn=cmd_migrate)

    d = sub.add_parser("demo", help="create a small demo team and print its logins")
    db_opts(d)
    d.set_defaults(fn=cmd_demo)

    r = sub.add_parser("reproject", help="rebuild every projection table from the docs "
                       "(stop the server first)")
    db_opts(r)
    r.set_defaults(fn=cmd_reproject)

    im = sub.add_parser("import", help="import customers and contacts from .xlsx or .csv")
    im.add_argument("file")
    im.add_argument("--dry-run", action="store_true", help="say per row what would happen")
    im.add_argument("--on-match", choices=["merge", "skip"], default="merge",
                    help="a row matching an existing customer: merge (default) or skip")
    im.add_argument("--as", dest="as_login", metavar="ADMIN_LOGIN",
                    help="the admin who imports (needed for the import itself)")
    db_opts(im)
    im.set_defaults(fn=cmd_import)

    u = sub.add_parser("user", help="manage users")
    usub = u.add_subparsers(dest="user_cmd", required=True)
    ua = usub.add_parser("add", help="add a user; the password is read from stdin")
    ua.add_argument("login")
    ua.add_argument("--role", required=True, choices=["rep", "engineer", "manager", "admin"])
    ua.add_argument("--manager", help="login of the user's manager")
    ua.add_argument("--name")
    db_opts(ua)
    ua.set_defaults(fn=cmd_user_add)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # Alembic's own INFO lines (plugins set up, the DDL mode) say nothing to an operator;
    # server.db logs the one line that does: which migrations ran.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    args = parser().parse_args(argv)
    try:
        return int(args.fn(args))
    except (HTTPError, WaiqinError) as e:
        print(f"waiqin: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
