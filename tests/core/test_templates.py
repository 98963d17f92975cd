"""English and Chinese are both complete: same templates, same labels, help for every command."""
import pytest

from bot.bootstrap import command_table
from bot.i18n import TEMPLATE_DIR, _commands, _labels, environment

LOCALES = ("en", "zh")


def template_names(locale: str) -> set[str]:
    root = TEMPLATE_DIR / locale
    return {str(p.relative_to(root)) for p in root.rglob("*.j2")}


def test_every_template_exists_in_both_languages():
    english, chinese = template_names("en"), template_names("zh")
    assert english - chinese == set(), "missing in zh"
    assert chinese - english == set(), "missing in en"


def test_labels_have_the_same_keys_in_both_languages():
    assert set(_labels("en")) == set(_labels("zh"))


def test_every_visible_command_has_help_in_both_languages():
    commands = command_table().all()
    for locale in LOCALES:
        table = _commands(locale)
        missing = [c.name for c in commands if not c.hidden and c.name not in table]
        assert missing == [], f"{locale}: no summary/usage for {missing}"
        assert all(entry["summary"] and entry["usage"] for entry in table.values())


@pytest.mark.parametrize("locale", LOCALES)
def test_every_template_compiles(locale):
    for name in sorted(template_names(locale)):
        environment().get_template(f"{locale}/{name}")
