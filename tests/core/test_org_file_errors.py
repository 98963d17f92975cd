"""A wrong org file is refused in one line naming the file, the line and the key, in
DEFAULT_LOCALE, with exit code 2, and nothing of it is written."""
import pytest

from tests.core.org_files import COMPANY, row_counts, write


def refused(db, fieldcrm, tmp_path, text: str) -> str:
    """Load `text` over the company; the one line it is refused with. Checks nothing was written."""
    assert fieldcrm("org", "load", write(tmp_path, COMPANY, "company.yaml"))[0] == 0
    before = row_counts(db)
    code, out, err = fieldcrm("org", "load", write(tmp_path, text))
    assert code == 2 and out == "", out
    lines = [line for line in err.splitlines() if not line.startswith("{")]  # JSON log lines aside
    assert len(lines) == 1 and "Traceback" not in err, err
    assert row_counts(db) == before
    return lines[0]


def line_of(text: str, fragment: str, occurrence: int = 1) -> int:
    lines = [number for number, line in enumerate(text.splitlines(), start=1) if fragment in line]
    return lines[occurrence - 1]


def edited(old: str, new: str) -> str:
    assert old in COMPANY
    return COMPANY.replace(old, new, 1)


CASES = [
    # (what is wrong, the edited file, the line's fragment, the key named, words of the message)
    ("unknown top-level key", COMPANY + "teams:\n  - x\n", "teams:", "teams", "no setting by that name"),
    ("unknown key in a user", edited("{handle: li, name: 李雷,", "{handle: li, nmae: 李雷,"),
     "handle: li", "users.3.nmae", "no setting by that name"),
    ("unknown key in pool rules", edited("      auto_distribute: true\n", "      auto_distribute: true\n"
                                         "      max_leads: 3\n"),
     "max_leads", "pools.1.rules.max_leads", "no setting by that name"),
    ("unknown key in boards", edited("      top: 5\n", "      top: 5\n      colour: red\n"),
     "colour", "channels.1.boards.colour", "no setting by that name"),
    ("a rule that is not a number", edited("daily_claim_limit: 10", "daily_claim_limit: lots"),
     "daily_claim_limit", "pools.1.rules.daily_claim_limit", '"lots" is not a whole number'),
    ("a negative return rule", edited("return_no_followup_days: 5", "return_no_followup_days: -1"),
     "return_no_followup_days: -1", "pools.1.rules.return_no_followup_days", "too small (at least 1)"),
    ("a level's bad rule", edited("A: {return_no_followup_days: 14}", "A: {return_no_followup_days: soon}"),
     "A: {", "pools.1.rules.levels.A.return_no_followup_days", '"soon" is not a whole number'),
    ("a pool naming an unknown unit", edited("units: [上海一组, 杭州组]", "units: [上海一组, 苏州组]"),
     "units: [上海一组", "pools.1.members.units.2", 'no unit named "苏州组"'),
    ("a pool admin not in the file", edited("admins: [mei]", "admins: [ghost]"),
     "admins:", "pools.1.admins.1", 'nobody with the handle "ghost"'),
    ("a time of day past midnight", edited("time: 18:30", 'time: "25:00"'),
     "time:", "channels.1.boards.time", '"25:00" is not a time of day'),
    ("quiet hours that are not a span", edited("quiet_hours: 22:00-08:00", "quiet_hours: evenings"),
     "quiet_hours", "channels.1.quiet_hours", '"evenings" is not a span of quiet hours'),
    ("a user's unknown unit", edited("unit: 杭州组, scope", "unit: 杭州, scope"),
     "handle: zhang", "users.4.unit", 'no unit named "杭州"'),
    ("an unknown manager", edited("manager: mei}", "manager: boss}"),
     "handle: li", "users.3.manager", 'nobody with the handle "boss"'),
    ("a unit twice", edited("      - name: 杭州组\n", "      - name: 杭州组\n      - name: 浦东\n"),
     "- name: 浦东#2", "units.1.children.3.name", '"浦东" appears twice'),
    ("a bad role", edited("role: admin", "role: boss"), "handle: wang", "users.1.role",
     '"boss" is not one of rep, manager, admin'),
    ("a key written twice", edited("      top: 5\n", "      top: 5\n      top: 6\n"),
     "top: 6", "channels.1.boards.top", "appears twice"),
    ("unknown key in a unit's visits", edited("      grace_minutes: 10\n", "      grace_minutes: 10\n      geofence: 100\n"),
     "geofence: 100", "units.1.visits.geofence", "no setting by that name"),
    ("working hours ending before they start", edited("work_hours: 08:30-17:30", "work_hours: 18:00-09:00"),
     "work_hours", "units.1.visits.work_hours", '"18:00-09:00" is not a span of working hours'),
    ("an office off the globe", edited("latitude: 31.2304", "latitude: 200"),
     "office:", "units.1.visits.office.latitude", "200 is too large (at most 90)"),
    ("a geofence that is not a number", edited("geofence_m: 300", "geofence_m: wide"),
     "geofence_m", "units.1.visits.geofence_m", '"wide" is not a number'),
    ("announcements on something else", edited("announce_on: collected", "announce_on: bogus"),
     "announce_on", "units.1.announcements.announce_on", '"bogus" is not one of won, collected'),
    ("a fanfare amount below 1", edited("fanfare: [50000, 10000]", "fanfare: [50000, -5]"),
     "announce_on", "units.1.announcements.fanfare.2", "too small (at least 1)"),
    ("a nudge time past midnight", edited("visit_by: 10:30", "visit_by: 25:00"),
     "handle: zhang", "users.4.nudges.visit_by", '"25:00" is not a time of day'),
    ("a holiday that is no date", edited("  2026-10-02: 国庆节", "  2026-10-32: 国庆节"),
     "2026-10-32", "holidays.2026-10-32", '"2026-10-32" is not a date'),
    ("a lose reason code of two words", edited("  price: 价格太高", "  too expensive: 价格太高"),
     "too expensive", "lose_reasons.too expensive", '"too expensive" is not a reason code'),
    ("not YAML", edited("timezone: Europe/Berlin", "timezone: Europe: Berlin"), "Europe: Berlin", None,
     "not YAML (mapping values are not allowed here)"),
]


@pytest.mark.parametrize(("text", "fragment", "key", "words"), [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_a_wrong_file_is_refused_in_one_line_naming_the_line_and_key(db, fieldcrm, tmp_path, text, fragment, key,
                                                                     words):
    message = refused(db, fieldcrm, tmp_path, text)
    fragment, _, occurrence = fragment.partition("#")
    where = f"org.yaml, line {line_of(text, fragment, int(occurrence or 1))}"
    assert where in message, message
    if key:
        assert f": {key}:" in message, message
    assert words in message and "nothing was changed" in message, message


def test_a_cycle_is_refused_naming_the_unit(db, fieldcrm, tmp_path):
    text = COMPANY.replace("units:\n", "units:\n  - {name: A, parent: B}\n  - {name: B, parent: A}\n", 1)
    message = refused(db, fieldcrm, tmp_path, text)
    assert "line 2: units.1.parent" in message and "cycle" in message


def test_closing_a_unit_with_people_is_refused_and_rolled_back(db, fieldcrm, tmp_path):
    text = COMPANY.replace("          - name: 浦东\n", "          - {name: 浦东, active: false}\n").replace(
        "daily_claim_limit: 10", "daily_claim_limit: 11")  # a change written before the refusal, then undone
    message = refused(db, fieldcrm, tmp_path, text)
    assert "units.1.children.1.children.1.active" in message and "1 active person" in message


def test_the_refusal_is_in_the_default_language(db, fieldcrm, tmp_path, monkeypatch):
    monkeypatch.setenv("DEFAULT_LOCALE", "zh")
    text = COMPANY.replace("daily_claim_limit: 10", "daily_claim_limit: 很多")
    message = refused(db, fieldcrm, tmp_path, text)
    line = line_of(text, "daily_claim_limit")
    assert f"org.yaml 第 {line} 行:pools.1.rules.daily_claim_limit:" in message
    assert "“很多”" in message and "未做任何修改" in message


def test_yaml_1_1_surprises_are_read_as_people_mean_them(db, fieldcrm, tmp_path):
    text = ("units:\n  - {name: Oslo, phone_region: NO}\n"
            "channels:\n  - {platform: slack, chat: 0123, unit: Oslo, quiet_hours: 22:00-7:30,"
            " boards: {time: 18:00, weekends: on}}\n")
    code, _, err = fieldcrm("org", "load", write(tmp_path, text))
    assert code == 0, err
    code, dump, _ = fieldcrm("org", "dump")
    assert "phone_region: 'NO'" in dump or "phone_region: NO" in dump
    assert "chat: '0123'" in dump and "quiet_hours: 22:00-07:30" in dump and "weekends: true" in dump
