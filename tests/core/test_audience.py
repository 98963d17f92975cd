"""Who may see each command's answers (issue #13): personal unless declared otherwise, the declared
ones reviewed here, and the router carrying the declaration on every reply asked for in a group."""
from dataclasses import replace

from bot.bootstrap import command_table
from bot.messages import Audience, Reply, for_caller_only

# The commands whose answers a whole group chat may see. Every other command is PRIVATE: its
# answers carry names and phones, amounts, exports, charts of people's figures, the audit or an
# identity, and typed in a group they go to the caller alone. A command added to this list is a
# decision: its answers, errors included, must carry nothing personal.
GROUP_SAFE = {
    "help": Audience.CHAT,  # the commands one may use
    "lang": Audience.CHAT,  # "language set"
    "join": Audience.CHAT,  # in a group it only says to join in the private chat
    "rank": Audience.CHAT,  # the board the team's group is pushed anyway
    "channel": Audience.GROUP,  # the group's own settings, for everyone in it
    "channel set": Audience.GROUP,
    "channel link": Audience.GROUP,
    "channel unlink": Audience.GROUP,
}


def test_every_command_is_private_unless_reviewed_as_group_safe():
    declared = {cmd.name: cmd.audience for cmd in command_table().all()}
    assert set(GROUP_SAFE) <= set(declared), "a reviewed command is gone: drop it from GROUP_SAFE"
    not_private = {name: audience for name, audience in declared.items() if audience is not Audience.PRIVATE}
    assert not_private == GROUP_SAFE, (
        "a command's answers are declared for a group chat without review: check that none of them "
        "(errors included) carries a name, phone, amount, file or identity, then add it to GROUP_SAFE"
    )


def test_the_rule_a_personal_answer_in_a_group_is_for_the_caller_only():
    personal, safe, group = (Reply(text="x", audience=a) for a in (Audience.PRIVATE, Audience.CHAT, Audience.GROUP))
    assert for_caller_only(personal, in_private_chat=False)
    assert not for_caller_only(personal, in_private_chat=True)
    assert not any(for_caller_only(reply, in_private_chat=False) for reply in (safe, group))


def test_the_audience_is_kept_with_a_stored_answer_and_an_older_one_still_reads():
    for audience in Audience:
        reply = Reply(text="x", audience=audience, file_name="a.csv", file_bytes=b"a")
        assert Reply.from_json(reply.to_json(file_limit=10)) == reply
    assert "audience" not in Reply(text="x").to_json()  # the usual one costs nothing
    assert Reply.from_json({"text": "x", "public": True}).audience is Audience.GROUP  # kept before #13
    assert Reply.from_json({"text": "x"}).audience is Audience.CHAT


def in_group(console, line: str) -> list[Reply]:
    incoming = replace(console.to_incoming(line), chat_id="#sales", is_private=False)
    return console.router.handle(incoming)


def test_the_router_carries_the_declaration_on_every_reply_asked_for_in_a_group(console):
    for line in ("/lead 1", "/lead 99999", "/whoami", "/export leads", "/lead"):  # errors too
        replies = in_group(console, line)
        assert replies and all(reply.audience is Audience.PRIVATE for reply in replies), line
    assert all(reply.audience is Audience.CHAT for reply in in_group(console, "/help"))
    assert all(reply.audience is Audience.CHAT for reply in in_group(console, "/nosuchcommand"))
    # in a private chat nothing changes: the answers stay where they were asked
    replies = console.router.handle(console.to_incoming("/lead 1"))
    assert all(reply.audience is Audience.CHAT for reply in replies)
