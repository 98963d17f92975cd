"""Command handlers, one package per capability; each declares its commands with @command and
bot.bootstrap builds the command table from the modules it names."""
