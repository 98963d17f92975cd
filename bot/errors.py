"""Errors a user can be told about. Each names a template; the router renders it in his language."""


class UserError(Exception):
    """A business rule said no. `template` lives in bot/templates/<locale>/errors/."""

    def __init__(self, template: str, **params: object):
        super().__init__(template)
        self.template = template
        self.params = params


class UsageError(UserError):
    """The arguments do not fit the command; the reply shows its usage line."""

    def __init__(self, command: str, problem: str = "usage", field: str | None = None, **params: object):
        super().__init__(problem, command=command, **params)
        self.command = command
        self.field = field  # the form field at fault, when the arguments came from a form
