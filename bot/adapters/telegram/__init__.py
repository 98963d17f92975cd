"""The Telegram front end (python-telegram-bot): Telegram updates in, Telegram HTML out.

Translation only, in the manner of an opsdroid connector: an update becomes a neutral Incoming
(command, location, button press), the Router answers, and each Reply becomes one or more
HTML messages with inline keyboards. No business rule and no SQL lives here.

Polling when TELEGRAM_WEBHOOK_URL is empty; otherwise a webhook served by the shared aiohttp app
at POST /telegram/webhook, guarded by the secret-token header.

- `words`: the platform name and the command prefix;
- `inbound`: an `Update` -> `Incoming` (commands, locations and live locations, button presses);
- `outbound`: a `Reply` -> HTML messages with keyboards, sent in order (`deliver`), and the
  outbox `TelegramSender` within Telegram's rate limits;
- `menu`: the command menu (setMyCommands);
- `front_end`: `build_application` and `TelegramFrontEnd` (polling or webhook).

Nothing here is re-exported: import from the module itself.
"""
