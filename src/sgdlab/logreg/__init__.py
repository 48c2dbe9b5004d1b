"""Binary logistic regression: a built-in problem made only of this package and its registry line."""
