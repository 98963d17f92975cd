"""The foundation commands through the console adapter, in both languages."""
from bot.services.core import identity
from db.base import utcnow
from tests.conftest import posted, say


def test_help_lists_only_what_the_role_may_use_in_his_language(console):
    english = say(console, "/help")
    assert "Commands you can use" in english and "/whoami" in english
    say(console, "/as li")
    chinese = say(console, "/help")
    assert "你可以使用的命令" in chinese and "/whoami" in chinese


def test_whoami_shows_unit_path_and_role(console):
    say(console, "/as li")
    out = say(console, "/whoami")
    assert "李雷 Li Lei" in out and "Acme Trading / East Team" in out and "销售" in out


def test_lang_switches_and_sticks(console):
    say(console, "/as li")
    assert "Language set to English" in say(console, "/lang en")
    assert "Sales rep" in say(console, "/whoami")
    assert "不支持" in say(console, "/lang fr") or "speak" in say(console, "/lang fr")


def test_unknown_command_suggests_the_closest(console):
    assert "Did you mean /help" in say(console, "/hlep")
    say(console, "/as li")
    assert "你是不是想用 /whoami" in say(console, "/whoamu")


def test_unlinked_person_gets_one_line_and_nothing_else(console):
    say(console, "/as stranger")
    for line in ("/help", "/whoami", "/anything at all", "/location 30 120"):
        out = say(console, line)
        assert out.count("\n") == 0 and "invitation code" in out


def test_join_links_once_and_posts_welcome_to_team_channel(console, db):
    code = invitation_for(db, "li")
    say(console, "/as newphone")
    out = say(console, f"/join {code.lower()}")
    assert "欢迎" in out and "East Team" in out
    assert "李雷 Li Lei" in say(console, "/whoami")
    say(console, "/as otherphone")
    assert "already used" in say(console, f"/join {code}")
    from sqlalchemy import select

    from db.models import OutboxMessage

    with db.uow() as uow:
        posts = uow.session.scalars(select(OutboxMessage)).all()
    assert [p.chat_id for p in posts] == ["#sales"]
    assert "joined" in posted(posts[0]).text


def invitation_for(db, handle):
    with db.uow() as uow:
        user = identity.find_user(uow, handle)
        code = identity.create_invitation(uow, user.id, utcnow(), 14)
        uow.commit()
    return code


def test_usage_error_in_users_language(console):
    assert "Usage: /join CODE" in say(console, "/join")
    say(console, "/as li")
    assert "用法:/join 邀请码" in say(console, "/join")
    assert "引号没有闭合" in say(console, '/join "abc')


def test_bad_invitation_codes(console):
    say(console, "/as stranger")
    assert "not valid" in say(console, "/join NOPE1234")


def test_attached_chart_is_saved_and_its_path_shown(console, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    say(console, "/as mei")
    out = say(console, "/team")
    assert "[team.png] fieldcrm-files/team.png" in out
    assert (tmp_path / "fieldcrm-files" / "team.png").read_bytes().startswith(b"\x89PNG")


def test_every_form_of_a_usage_line_gets_the_command_prefix(console):
    say(console, "/as mei")
    assert "/target [REP|TEAM] [month|quarter]  ·  /target set REP|TEAM" in say(console, "/lang en") + say(console, "/help")


def test_whoami_lists_every_linked_account_with_its_date(console, db):
    code = invitation_for(db, "admin")
    say(console, "/as adas-phone")
    say(console, f"/join {code}")
    out = say(console, "/whoami")
    assert "Linked accounts: 2" in out
    assert "- Console: admin, linked since" in out and "- Console: adas-phone, linked since" in out
    say(console, "/as li")
    assert "已绑定账号: 1 个" in say(console, "/whoami") and "终端:li," in say(console, "/whoami")


def test_a_new_invitation_revokes_the_older_unused_one(console, db):
    old, new = invitation_for(db, "li"), invitation_for(db, "li")
    say(console, "/as newphone")
    assert "replaced by a newer one" in say(console, f"/join {old}")
    assert "欢迎" in say(console, f"/join {new}")
    assert "已经绑定过了" in say(console, f"/join {old}")


def test_an_account_linked_to_someone_else_cannot_take_his_code(console, db):
    sams = invitation_for(db, "sam")
    say(console, "/as li")
    refusal = say(console, f"/join {sams}")
    assert "已经绑定给 李雷 Li Lei" in refusal and "没有做任何更改" in refusal
    assert "李雷 Li Lei" in say(console, "/whoami")
    assert "已经绑定过了" in say(console, f"/join {invitation_for(db, 'li')}")  # himself again: a no-op
    say(console, "/as sams-phone")
    assert "Sam Carter" in say(console, f"/join {sams}")
