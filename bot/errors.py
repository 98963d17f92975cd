"""Errors a user can be told about. Each names a template; the router renders it in his language."""


class UserError(Exception):
    """A business rule said no. `template` lives in bot/templates/<locale>/errors/."""

    field: str | None = None  # the form field at fault, when the values came from a form

    def __init__(self, template: str, **params: object):
        super().__init__(template)
        self.template = template
        self.params = params

    def at(self, field: str) -> "UserError":
        """The same refusal, pinned to the form field it is about."""
        self.field = field
        return self


class UsageError(UserError):
    """The arguments do not fit the command; the reply shows its usage line."""

    def __init__(self, command: str, problem: str = "usage", field: str | None = None, **params: object):
        super().__init__(problem, command=command, **params)
        self.command = command
        self.field = field
