"""Who may do what: users, teams and service accounts, API tokens, project grants, and the
one check of every operation's declared role (:mod:`dockyard.access.check`)."""
