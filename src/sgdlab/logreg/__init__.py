"""Binary logistic regression: the fourth built-in problem, and the proof that a problem is a
plugin (its package, one registry line; the command, sweeps, lr-find, resume and the store come
from the shared skeleton)."""
