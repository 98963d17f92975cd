"""The Slack front end (slack-bolt, async): Slack events in, neutral `Incoming` out; `Reply` in, Block Kit out.

One slash command (`/crm <command> args`), direct messages, app mentions and button clicks reach the
router; every request is acked at once and the router runs afterwards in one of its threads. HTTP mode
serves POST /slack/events on the shared aiohttp app (bolt checks the signature and answers Slack's
url_verification); Socket Mode is used instead when SLACK_APP_TOKEN is set. `SlackSender` delivers
outbox posts with chat.postMessage and turns Slack's answers into RetryAfter / PermanentFailure.
No business rule and no SQL lives here.

- `words`: the platform name and the command prefix;
- `blocks`: `Reply` -> Block Kit (mrkdwn escaping, Slack's size limits);
- `inbound`: Slack payloads (slash command, message, button click) -> `Incoming`;
- `outbound`: where the replies go and how they are posted (`SlackSender`, `SlackAnswerer`);
- `modals`: the forms (new lead, visit report, win, follow-up) as modals, and their submissions read back;
- `interactions`: the App Home's and the modals' listeners (shortcuts, buttons, submissions);
- `home`: the App Home as Block Kit; `home_publisher`: views.publish, coalesced, within the budget;
- `front_end`: `SlackFrontEnd`, the bolt app and its listeners.

Nothing here is re-exported: import from the module itself, so slack-bolt loads only where Slack
is configured (`bot.bootstrap.platform_front_ends`).
"""
