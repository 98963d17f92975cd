"""English counts agree with their noun ("1 record", "2 records"), by babel's plural rules."""
from types import SimpleNamespace as NS

import pytest

from bot.i18n import render_text


def org_loaded(n: int) -> str:
    result = NS(units_created=n, users_created=["x"] * n, users_updated=n, channels=n, pools_created=n, pools_updated=n,
                phones_rekeyed=n)
    return render_text("cli/org_loaded", "en", result=result, codes={})


def handed_over(n: int) -> str:
    result = NS(records=n, from_name="Li", leads=n, customers=n, contacts=n, deals=n)
    return render_text("manager/handover_dm_to", "en", result=result, manager="Mei")


@pytest.mark.parametrize(("n", "words"), [
    (1, ["1 new unit,", "1 new user,", "1 channel,", "1 new pool,", "1 stored phone was"]),
    (2, ["2 new units,", "2 new users,", "2 channels,", "2 new pools,", "2 stored phones were"]),
])
def test_org_loaded(n, words):
    out = org_loaded(n)
    assert all(w in out for w in words), out


@pytest.mark.parametrize(("n", "words"), [
    (1, ["received 1 record", "1 lead,", "1 customer,", "1 contact,", "1 open deal."]),
    (2, ["received 2 records", "2 leads,", "2 customers,", "2 contacts,", "2 open deals."]),
])
def test_handover_counts(n, words):
    out = handed_over(n)
    assert all(w in out for w in words), out


@pytest.mark.parametrize(("n", "word"), [(1, "1 open lead,"), (2, "2 open leads,")])
def test_lead_cap(n, word):
    assert word in render_text("errors/leads/over_cap", "en", cap=n)


@pytest.mark.parametrize(("n", "word"), [(1, "valid 1 day;"), (2, "valid 2 days;")])
def test_invitation_days(n, word):
    assert word in render_text("cli/invitation", "en", handle="li", code="AB12", days=n)


def test_chinese_has_one_form():
    assert "1 天" in render_text("cli/invitation", "zh", handle="li", code="AB12", days=1)
    assert "2 天" in render_text("cli/invitation", "zh", handle="li", code="AB12", days=2)
