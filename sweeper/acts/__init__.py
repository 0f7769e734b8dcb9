"""The acts of the act phase, each one thing: `opening` a PR (with its 422 and lost-answer
re-check), `withdrawing` one that stands at unreviewed code, `refreshing` one after a new
review, and `notifying` reviewers and labels. `writing` holds every write (`Effects`),
`guard` the one rate-limit guard, `decisions` what the acts answer with."""
