"""Visit photos: a bare photo or file attaches to the rep's visit (bot.services.visits.photos);
`/photos VISIT_ID` sends a visit's photos to whoever may see the visit, privately."""
from dataclasses import replace

from bot.context import Context
from bot.errors import UsageError
from bot.handlers.args import Param
from bot.handlers.registry import PHOTO_COMMAND, command
from bot.messages import Reply
from bot.services.visits import photos


@command(PHOTO_COMMAND, params=[Param("path", kind="text", optional=True)], hidden=True)
def photo(ctx: Context, path: str | None) -> Reply:
    """A bare photo; `path` is the console's way to name one (an unreadable path arrives here)."""
    sent = ctx.incoming.attachment
    if sent is None:
        raise UsageError(PHOTO_COMMAND)
    upload = photos.Upload(sent.content, sent.size, sent.sent_as, sent.file_name, sent.failed)
    attached = photos.attach_photo(ctx.uow, ctx.settings.PHOTO_DIR, ctx.user_id, upload, ctx.now,
                                   ctx.incoming.is_private, ctx.settings.PHOTO_MAX_BYTES)
    return ctx.reply("visits/photo_attached", attached=attached)


@command("photos", params=[Param("visit_id", kind="int")], group="2-visits")
def visit_photos(ctx: Context, visit_id: int) -> list[Reply]:
    found = photos.visit_photos(ctx.uow, ctx.settings.PHOTO_DIR, ctx.user_id, visit_id, ctx.now)
    return [ctx.reply("visits/photos", found=found)] + [
        replace(ctx.reply("visits/photo_item", photo=item, found=found),
                file_name=item.file_name if item.content is not None else None, file_bytes=item.content)
        for item in found.photos
    ]
