"""The message catalogs are complete and current, and the UI's text goes through them.

- every message the code marks is in the template and translated in Korean (``make i18n`` after
  adding one, then translate it in ``bi_app/translations/ko/LC_MESSAGES/messages.po``);
- translations keep their placeholders, and the compiled catalog is the source one;
- no user-visible literal in ``pages/``, ``callbacks/`` or ``components/`` bypasses gettext: a
  literal with letters given as a component's text (its first argument or ``children``) or as one of
  the text properties in :data:`TEXT_PROPS` must be ``_()``/``N_()``-marked.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = ROOT / "bi_app" / "translations"
SOURCES = ("bi_app", "components", "callbacks", "pages")
UI_FOLDERS = ("pages", "callbacks", "components")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
# component properties a person reads
TEXT_PROPS = frozenset(
    {
        "children",
        "label",
        "title",
        "placeholder",
        "header",
        "headerName",
        "description",
        "message",
        "text",
        "tooltip",
        "aria-label",
    }
)
# component modules whose constructors take text
COMPONENT_MODULES = frozenset({"html", "dbc", "dcc"})
# literals that read the same in every language: names, and machine syntax shown as an example of
# what to type (an ISO time, an HTTP header name, a URL template)
UNTRANSLATED = frozenset(
    {
        "bi-app",
        "CSV",
        "JSON",
        "Excel",
        "PDF",
        "YYYY-MM-DD HH:MM",
        "Authorization",
        "https://stats.example/{event_code}?channel={channel}",
    }
)


def _messages(catalog) -> dict[str, object]:
    return {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalog if m.id}


@pytest.fixture(scope="module")
def korean():
    with (CATALOGS / "ko" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale="ko")


def _code_messages() -> set[str]:
    found: set[str] = set()
    method_map = [("**.py", "python")]
    for folder in SOURCES:
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / folder, method_map
        ):
            found.add(message if isinstance(message, str) else message[0])
    return found


def test_the_template_holds_every_message_of_the_code():
    with (CATALOGS / "messages.pot").open("rb") as f:
        template = set(_messages(read_po(f)))
    missing = sorted(_code_messages() - template)
    assert not missing, f"run `make i18n`: {len(missing)} new message(s), e.g. {missing[:5]}"


def test_every_message_is_translated_into_korean(korean):
    code = _code_messages()
    messages = _messages(korean)
    absent = sorted(code - set(messages))
    untranslated = sorted(
        key
        for key, m in messages.items()
        if key in code
        and (m.fuzzy or not (m.string if isinstance(m.string, str) else all(m.string)))
    )
    assert not absent, f"run `make i18n`: not in the Korean catalog: {absent[:5]}"
    assert not untranslated, f"{len(untranslated)} untranslated, e.g. {untranslated[:5]}"


def test_translations_keep_their_placeholders(korean):
    wrong = []
    for message in korean:
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        expected = set(PLACEHOLDER.findall(ids[-1])) | set(PLACEHOLDER.findall(ids[0]))
        for text in strings:
            if text and set(PLACEHOLDER.findall(text)) != expected:
                wrong.append((ids[0], text))
    assert not wrong, wrong[:5]


def test_the_compiled_catalog_is_the_source_one(korean):
    def plain(value):  # plural messages come back as lists from one reader, tuples from the other
        return tuple(value) if isinstance(value, (list, tuple)) else value

    with (CATALOGS / "ko" / "LC_MESSAGES" / "messages.mo").open("rb") as f:
        compiled = {plain(m.id): plain(m.string) for m in read_mo(f) if m.id}
    source = {plain(m.id): plain(m.string) for m in korean if m.id and m.string and not m.fuzzy}
    assert compiled == source, "run `make i18n` (pybabel compile)"


def _is_component_call(node: ast.Call) -> bool:
    func = node.func
    return (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id in COMPONENT_MODULES
        and func.attr[:1].isupper()
    )


def _readable(node: ast.AST) -> str | None:
    """The text of a literal a person would read (letters in it), else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value.strip()
        if text and text not in UNTRANSLATED and re.search(r"[A-Za-z]{2,}", text):
            return text
    if isinstance(node, ast.JoinedStr):
        parts = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
        if re.search(r"[A-Za-z]{2,}", parts):
            return f"f-string: {parts.strip()[:40]}"
    return None


def _bypasses(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not _is_component_call(node):
            continue
        candidates: list[ast.AST] = []
        if node.args:
            first = node.args[0]
            candidates.extend(first.elts if isinstance(first, (ast.List, ast.Tuple)) else [first])
        for keyword in node.keywords:
            if keyword.arg in TEXT_PROPS:
                value = keyword.value
                candidates.extend(
                    value.elts if isinstance(value, (ast.List, ast.Tuple)) else [value]
                )
        for candidate in candidates:
            text = _readable(candidate)
            if text is not None:
                found.append((candidate.lineno, text))
    return found


def _ui_files() -> list[Path]:
    return sorted(p for folder in UI_FOLDERS for p in (ROOT / folder).glob("*.py"))


@pytest.mark.parametrize("path", _ui_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_user_visible_literal_bypasses_gettext(path):
    found = _bypasses(ast.parse(path.read_text(encoding="utf-8")))
    assert not found, f"{path.name}: wrap in _(): " + "; ".join(
        f"line {line}: {text!r}" for line, text in found[:8]
    )


def test_the_check_finds_a_bare_literal():
    tree = ast.parse('html.Div("Revenue by day", id="x")\nhtml.Div(_("Revenue"), id="y")')
    assert _bypasses(tree) == [(1, "Revenue by day")]
