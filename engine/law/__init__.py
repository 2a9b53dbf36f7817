"""What the law says about an order, in one place: the rules with their sources
(`rules`), the checks an order must pass (`checks`), the values the law sets when a court
leaves them out (`derivations`), registry deadlines (`deadlines`) and court calendars
(`court_calendar`).

May import: the model, errors and attachments at the top of `engine`. Nothing that moves
an order (intake, ledger, delivery) and no format.
"""
