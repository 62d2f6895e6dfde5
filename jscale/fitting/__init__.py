"""The fitting verbs: `fit`, `fit_many`, `bootstrap`, `bootstrap_many`."""
