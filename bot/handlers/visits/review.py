"""A manager's review of flagged and unverified visits: /review, and its approve/reject buttons."""
from dataclasses import replace

from bot.context import Context
from bot.errors import UsageError
from bot.handlers import paging
from bot.handlers.args import Param
from bot.handlers.registry import Access, command
from bot.i18n import button
from bot.messages import Reply
from bot.services.visits import review as reviews


@command(
    "review",
    access=Access.MANAGER,
    params=[
        Param("action", kind="choice", optional=True, choices=("approve", "reject")),
        Param("visit_id", kind="int", optional=True),
        Param("note", kind="text", optional=True),
    ],
    flags=[paging.PAGE_FLAG],
    group="5-team",
)
def review(ctx: Context, action: str | None, visit_id: int | None, note: str | None,
           page: int | None) -> Reply | list[Reply]:
    if action is None:
        queue = reviews.queue(ctx.uow, ctx.user_id, ctx.now, page_no=page)
        head = ctx.reply("review/queue", queue=queue)
        replies = [head] + [
            replace(
                ctx.reply("review/item", item=item),
                buttons=[
                    button("review_approve", ctx.locale, f"review approve {item.visit_id}", "primary"),
                    button("review_reject", ctx.locale, f"review reject {item.visit_id}", "danger"),
                    *([button("review_photos", ctx.locale, f"photos {item.visit_id}", count=item.photos)]
                      if item.photos else []),
                ],
            )
            for item in queue.items
        ]
        # The paging buttons go under the last item, where the reader's eye ends.
        paging.add_buttons(ctx, replies[-1], "review", queue.page)
        return replies
    if visit_id is None:
        raise UsageError("review")
    decision = reviews.decide(ctx.uow, ctx.user_id, visit_id, action == "approve", note, ctx.now)
    return ctx.reply("review/decided", decision=decision)
