"""The built wheel is a working app on its own: pages, assets and migrations travel inside it.

The wheel is built from a copy of the source tree (a stale ``build/`` in the checkout must not
hide a missing file), unpacked, and driven in a subprocess whose ``sys.path`` starts with the
unpacked wheel and does not hold the checkout; the subprocess proves where ``bi_app`` came from.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "wheel-admin-password-1"

# Runs with -I (no PYTHONPATH, no cwd on sys.path); argv: unpacked wheel dir, work dir.
SCRIPT = r"""
import json, re, sys
from pathlib import Path

unpacked = Path(sys.argv[1]).resolve()
work = Path(sys.argv[2]).resolve()
sys.path.insert(0, str(unpacked))
out = {}

import bi_app, callbacks, components
out["modules"] = {m.__name__: str(Path(m.__file__).resolve()) for m in (bi_app, callbacks,
components)}
for path in out["modules"].values():
    if not Path(path).is_relative_to(unpacked):
        print(json.dumps(out)); sys.exit(3)   # resolved to the checkout: the test proves nothing

from bi_app.config import Settings
from bi_app.db import migrate
settings = Settings.from_env()
migrate.upgrade(settings.database_url)

from bi_app import auth, create_app
from bi_app.extensions import db
app = create_app(settings)
out["pages_folder"] = str(Path(app.config.pages_folder).resolve())
out["assets_folder"] = str(Path(app.config.assets_folder).resolve())
import dash
out["page_paths"] = sorted(p["path"] for p in dash.page_registry.values())
with db.session() as session:
    auth.create_user(session, "admin", sys.argv[3], "admin", actor="tests")
    session.commit()

client = app.server.test_client()
login_page = client.get("/login")
out["login_status"] = login_page.status_code
page = login_page.get_data(as_text=True)
out["login_has_form"] = 'name="password"' in page
csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
posted = client.post("/login", data={"username": "admin", "password": sys.argv[3], "next": "/",
                                     "csrf_token": csrf})
out["login_post_status"] = posted.status_code
css = client.get("/assets/app.css")
out["css_status"] = css.status_code
out["css"] = css.get_data(as_text=True)
js = client.get("/assets/vendor/bootstrap.min.css")
out["vendor_status"] = js.status_code
out["vendor_len"] = len(js.get_data())
index = client.get("/")
out["index_status"] = index.status_code
out["index_links_css"] = "/assets/app.css" in index.get_data(as_text=True)
layout = client.get("/_dash-layout")
out["layout_status"] = layout.status_code
out["layout"] = layout.get_data(as_text=True)
print("RESULT " + json.dumps(out))
"""


def _copy_source(dest: Path) -> Path:
    ignore = shutil.ignore_patterns(
        ".git",
        ".venv",
        "build",
        "dist",
        "*.egg-info",
        "__pycache__",
        "instance",
        ".env",
        ".pytest_cache",
        "*.pyc",
    )
    return Path(shutil.copytree(REPO, dest, ignore=ignore))


def _build_wheel(source: Path, out: Path) -> Path:
    has_backend = importlib.util.find_spec("wheel") is not None
    cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(source)]
    if has_backend:
        cmd.insert(5, "--no-build-isolation")
    # Without the `wheel` package in this environment pip builds in an isolated environment
    # from the declared [build-system] requirements (which needs the package index).
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        if not has_backend and os.environ.get("CI", "").lower() not in ("1", "true", "yes"):
            pytest.skip(f"cannot build the wheel here: {done.stderr[-500:]}")
        pytest.fail(f"building the wheel failed:\n{done.stdout}\n{done.stderr}")
    wheels = list(out.glob("bi_app-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_the_built_wheel_runs_migrations_and_serves_the_app(tmp_path):
    source = _copy_source(tmp_path / "src")
    wheel = _build_wheel(source, tmp_path / "dist")
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        zf.extractall(unpacked)
    assert "bi_app/__init__.py" in names
    for needed in (
        "pages/overview.py",
        "assets/app.css",
        "assets/app.js",
        "assets/vendor/bootstrap.min.css",
        "migrations/env.py",
        "migrations/script.py.mako",
        "migrations/versions/0001_initial_domain_schema.py",
    ):
        assert needed in names, f"{needed} is missing from the wheel"
    shipped = [
        p.relative_to(REPO).as_posix()
        for folder in ("pages", "assets", "migrations")
        for p in (REPO / folder).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ]
    missing = sorted(set(shipped) - set(names))
    assert not missing, (
        f"files of the tree the wheel does not carry (package-data globs?): {missing}"
    )
    assert not any(n.startswith(("tests/", "bench/", "scripts/")) for n in names)

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BI_", "PYTHON"))}
    env.update(
        BI_ENV="test",
        BI_SCHEDULER="off",
        BI_SECRET_KEY="wheel-test-secret-0123456789",
        BI_DATABASE_URL=f"sqlite:///{work / 'fresh.sqlite'}",
        BI_INSTANCE_DIR=str(work / "instance"),
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", SCRIPT, str(unpacked), str(work), PASSWORD],
        check=False,
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 3, f"imports resolved outside the unpacked wheel: {done.stdout}"
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr[-4000:]}"
    out = json.loads(lines[-1][len("RESULT ") :])

    root = unpacked.resolve()
    assert all(Path(p).is_relative_to(root) for p in out["modules"].values()), out["modules"]
    assert Path(out["pages_folder"]) == root / "pages"
    assert Path(out["assets_folder"]) == root / "assets"
    source_pages = {p.stem for p in (REPO / "pages").glob("*.py") if not p.name.startswith("_")}
    assert len(out["page_paths"]) == len(source_pages) and "/" in out["page_paths"]

    assert out["login_status"] == 200 and out["login_has_form"]
    assert out["login_post_status"] == 302
    assert out["css_status"] == 200
    assert out["css"] == (REPO / "assets" / "app.css").read_text()
    assert out["vendor_status"] == 200
    assert out["vendor_len"] == (REPO / "assets" / "vendor" / "bootstrap.min.css").stat().st_size
    assert out["index_status"] == 200 and out["index_links_css"]
    assert out["layout_status"] == 200
    assert "app-sidebar" in out["layout"]
    assert (work / "fresh.sqlite").stat().st_size > 0
    assert not (source / "instance").exists()
