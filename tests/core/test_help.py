"""/help: the three commands a rep uses most first, then the rest by what people do, in his language."""
import re

import pytest

from tests.conftest import say

GROUPS = {
    "en": ["Most used", "Today", "Visits", "Leads and customers", "Deals", "Your team (managers)", "Your account"],
    "zh": ["最常用", "今天", "拜访", "线索与客户", "商机", "团队管理(主管)", "账号"],
}


def headers(out: str) -> list[str]:
    return [line.rstrip(":：") for line in out.splitlines() if line.endswith((":", "：")) and not line.startswith("/")]


def help_of(console, who: str, locale: str) -> str:
    say(console, f"/as {who}")
    say(console, f"/lang {locale}")
    return say(console, "/help")


@pytest.mark.parametrize("locale", ["en", "zh"])
def test_a_rep_sees_the_top_three_first_then_groups_without_the_team(console, locale):
    out = help_of(console, "li", locale)
    assert headers(out) == [g for g in GROUPS[locale] if g not in ("Your team (managers)", "团队管理(主管)")]
    commands = [line.split()[0] for line in out.splitlines() if line.startswith("/")]
    assert commands[:3] == ["/visit", "/follow", "/checkin"]
    assert commands.count("/visit") == 1 and "/review" not in commands and "/team" not in commands
    assert commands.index("/checkout") < commands.index("/visits") < commands.index("/pool") < commands.index("/deals")


@pytest.mark.parametrize("locale", ["en", "zh"])
def test_a_manager_also_sees_his_team_commands(console, locale):
    out = help_of(console, "mei", locale)
    assert headers(out) == GROUPS[locale]
    team = out.split(GROUPS[locale][5])[1].split(GROUPS[locale][6])[0]
    for name in ("/review", "/team", "/report", "/handover", "/export"):
        assert name in team


def test_chinese_usage_lines_have_no_english_argument_words(console):
    out = help_of(console, "mei", "zh")
    usages = [line.split(" - ")[0] for line in out.splitlines() if line.startswith("/")]
    assert [re.findall(r"\b[A-Z][A-Z-]+\b", usage) for usage in usages] == [[]] * len(usages)
    assert "/visit 客户|end [备注]" in out
